// The conformance report: a pass/fail table for people and JSON for tools.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "rtscope/conformance/check_result.hpp"

namespace rtscope::conformance {

// What was tested, for the report's header and JSON.
struct ReportSubject {
  std::string plugin_id;
  std::string plugin_version;
  std::string plugin_path;
  std::string abi;  // "1.1 (negotiated minor 1)"
  uint32_t device = 0;
  std::string device_name;
  uint64_t seed = 1;
};

// Header, one row per check (check, dtype, status, max error, message) and
// a summary line ending in PASS or FAIL.
void print_table(std::ostream& out, const ReportSubject& subject,
                 const std::vector<CheckResult>& results);

// The same table piece by piece, for printing rows as checks finish: the
// check column is `check_width` wide (longer names push the row out).
void print_header(std::ostream& out, const ReportSubject& subject, std::size_t check_width);
void print_row(std::ostream& out, const CheckResult& result, std::size_t check_width);
void print_summary(std::ostream& out, const ReportSubject& subject,
                   const std::vector<CheckResult>& results);

// One row and the subject as JSON objects and back (the worker protocol of
// rtscope-conformance).
std::string row_to_json(const CheckResult& result);
CheckResult row_from_json(const std::string& text);
std::string subject_to_json(const ReportSubject& subject);
ReportSubject subject_from_json(const std::string& text);

std::string to_json(const ReportSubject& subject, const std::vector<CheckResult>& results);

}  // namespace rtscope::conformance
