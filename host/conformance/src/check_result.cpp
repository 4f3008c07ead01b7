#include "rtscope/conformance/check_result.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "rtscope/conformance/abi_harness.hpp"
#include "rtscope/error.hpp"

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

namespace {

CheckObserver* g_observer = nullptr;

std::string current_exception_type() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (!type) return "unknown type";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? name.get() : type->name();
}

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
