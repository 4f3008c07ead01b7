// One row of a conformance report: a named check, its outcome and why.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace rtscope::conformance {

enum class CheckStatus {
  passed,
  failed,
  not_supported,  // the plugin declined the op through query_node
  skipped,        // nothing to check (e.g. an optional slot the plugin lacks)
};

const char* to_string(CheckStatus status);

struct CheckResult {
  std::string check;  // "op add_same", "abi errors.missing_binding", ...
  std::string dtype;  // "f32", "f16" or "-" when not per dtype
  CheckStatus status = CheckStatus::passed;
  std::optional<double> max_error;  // largest |actual - reference| seen
  std::string message;              // why it failed, or what was seen
};

struct Summary {
  int passed = 0;
  int failed = 0;
  int not_supported = 0;
  int skipped = 0;
  bool ok() const { return failed == 0; }
};

Summary summarize(const std::vector<CheckResult>& results);

}  // namespace rtscope::conformance
