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

std::string to_json(const ReportSubject& subject, const std::vector<CheckResult>& results);

}  // namespace rtscope::conformance
