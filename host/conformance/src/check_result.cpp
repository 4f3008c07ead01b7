#include "rtscope/conformance/check_result.hpp"

#include <algorithm>

#include "rtscope/conformance/abi_harness.hpp"
#include "rtscope/error.hpp"
#include "rtscope/exception_type.hpp"

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
  const auto count = [&results](CheckStatus status) {
    return static_cast<int>(
        std::count_if(results.begin(), results.end(),
                      [status](const CheckResult& r) { return r.status == status; }));
  };
  return {.passed = count(CheckStatus::passed),
          .failed = count(CheckStatus::failed),
          .not_supported = count(CheckStatus::not_supported),
          .skipped = count(CheckStatus::skipped)};
}

namespace {

CheckObserver* g_observer = nullptr;

}  // namespace

void set_check_observer(CheckObserver* observer) { g_observer = observer; }

std::string describe_current_exception() {
  try {
    throw;
  } catch (const CallFailure& e) {
    return e.what();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return "a C++ exception crossed the C ABI (" + current_exception_type() + ": " + e.what() +
           "); plugin entry points must catch everything and return a status";
  } catch (...) {
    return "a C++ exception crossed the C ABI (" + current_exception_type() +
           "); plugin entry points must catch everything and return a status";
  }
}

CheckResult observed_check(const std::string& check, const std::string& dtype,
                           const std::function<CheckResult()>& body) {
  if (g_observer && !g_observer->begin(check, dtype)) {
    // Not reported: the parent already holds this check's crash row.
    return {check, dtype, CheckStatus::failed, std::nullopt,
            "crashed or hung in an earlier worker process; not run again"};
  }
  CheckResult row;
  try {
    row = body();
  } catch (...) {
    row = {check, dtype, CheckStatus::failed, std::nullopt, describe_current_exception()};
  }
  if (g_observer) g_observer->row(row);
  return row;
}

CheckResult observed_row(CheckResult row) {
  if (g_observer) g_observer->row(row);
  return row;
}

}  // namespace rtscope::conformance
