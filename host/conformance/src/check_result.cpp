#include "rtscope/conformance/check_result.hpp"

namespace rtscope::conformance {

const char* to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::passed:
      return "PASS";
    case CheckStatus::failed:
      return "FAIL";
    case CheckStatus::not_supported:
      return "not supported";
    case CheckStatus::skipped:
      return "skipped";
  }
  return "?";
}

Summary summarize(const std::vector<CheckResult>& results) {
  Summary s;
  for (const auto& r : results) {
    switch (r.status) {
      case CheckStatus::passed:
        ++s.passed;
        break;
      case CheckStatus::failed:
        ++s.failed;
        break;
      case CheckStatus::not_supported:
        ++s.not_supported;
        break;
      case CheckStatus::skipped:
        ++s.skipped;
        break;
    }
  }
  return s;
}

}  // namespace rtscope::conformance
