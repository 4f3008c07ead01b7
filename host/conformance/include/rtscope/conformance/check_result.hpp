// One row of a conformance report: a named check, its outcome and why.
#pragma once

#include <functional>
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

// Watches checks as they run: rtscope-conformance runs the suite in a
// worker process that streams each row to its parent through this, so a
// crash or hang names the check it happened in.
class CheckObserver {
 public:
  virtual ~CheckObserver() = default;
  // Before a check runs; false skips it (it crashed in an earlier worker),
  // and the check then fails with that reason without running.
  virtual bool begin(const std::string& check, const std::string& dtype) = 0;
  // Every row the suite produces, in order.
  virtual void row(const CheckResult& result) = 0;
};

// The observer of this process; nullptr (the default) observes nothing.
void set_check_observer(CheckObserver* observer);

// Runs one check: asks the observer, then `body`, and reports the row. An
// exception from `body` fails the check with its message; any exception
// other than the harness's own (CallFailure, rtscope::Error) came out of
// the plugin through the C ABI and is flagged as such, with its type.
CheckResult observed_check(const std::string& check, const std::string& dtype,
                           const std::function<CheckResult()>& body);

// Reports a row made without running a check (skipped, not supported).
CheckResult observed_row(CheckResult row);

// The message for the exception being handled (call in a catch block).
std::string describe_current_exception();

}  // namespace rtscope::conformance
