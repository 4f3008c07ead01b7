// Shared pieces of the ABI checks: the probe op every engine-level check
// builds, running a check body into a result row, and verified execution.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rtscope/conformance/abi_checks.hpp"
#include "rtscope/conformance/op_suite.hpp"

namespace rtscope::conformance::detail {

// A small op the plugin supports, used wherever a check needs an engine.
struct Probe {
  Target target;
  std::unique_ptr<CaseGraph> graph;
  uint64_t seed = 1;
  // Empty when the plugin serializes engines; else the message with which
  // serialize_engine declined (RTS_ERROR_UNSUPPORTED, which the ABI allows:
  // the host then rebuilds instead of loading engine files).
  std::string serialization_declined;
  std::string dtype() const;
};

// Picks the first supported case among cheap elementwise ones, then any
// case, over `dtypes` in order; nullopt when the plugin supports none.
std::optional<Probe> find_probe(const Target& target, const AbiCheckOptions& options);

// Runs `body`; a thrown exception fails the check with its message, an
// empty return passes it and a non-empty return passes it with that note.
CheckResult run_check(const std::string& name, const std::string& dtype,
                      const std::function<std::string()>& body);

// A row for a check that does not apply because the plugin declined a
// feature it may decline.
CheckResult not_supported(const std::string& name, const std::string& dtype,
                          const std::string& why);

// Executes the probe with inputs from `seed` and throws CallFailure unless
// the outputs match the reference.
void execute_and_verify(const Probe& probe, const Engine& engine, const Context& context,
                        uint64_t seed);

// Throws CallFailure naming the slot unless the call failed with a
// non-empty message reported exactly once, with the returned status.
void require_reported_error(const std::string& slot, rts_status status, const ErrorCapture& err);

std::vector<CheckResult> entry_checks(const Target& target);
std::vector<CheckResult> struct_size_checks(const Probe& probe);
std::vector<CheckResult> error_checks(const Probe& probe);
std::vector<CheckResult> lifetime_checks(const Probe& probe);
std::vector<CheckResult> thread_checks(const Probe& probe, int threads);
std::vector<CheckResult> runtime_checks(const Probe& probe, const AbiCheckOptions& options);

}  // namespace rtscope::conformance::detail
