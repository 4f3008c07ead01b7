// ABI behaviour checks: what plugin_abi.h promises beyond computing the
// right values — version negotiation, struct_size discipline, errors
// reported with a message, object lifetimes, the thread-safety annotations,
// engine serialization, the runtime cache store, settings and device memory.
#pragma once

#include <vector>

#include "rtscope/conformance/abi_harness.hpp"
#include "rtscope/conformance/check_result.hpp"

namespace rtscope::conformance {

struct AbiCheckOptions {
  // The engine-level checks run on one small op the plugin supports, in the
  // first of these dtypes it supports it in.
  std::vector<DType> dtypes = {DType::f32, DType::f16};
  uint64_t seed = 1;
  int threads = 4;  // for the thread-safety checks
};

// Every check in order; a plugin that supports no op case gets the entry
// and device checks and one skipped row for the rest.
std::vector<CheckResult> run_abi_checks(const Target& target, const AbiCheckOptions& options);

}  // namespace rtscope::conformance
