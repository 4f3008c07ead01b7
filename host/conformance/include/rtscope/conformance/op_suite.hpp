// The op conformance suite: every op case the plugin claims through
// query_node, built, executed on seeded random inputs and compared with the
// float64 reference. Cases it declines are reported as not supported.
#pragma once

#include <string>
#include <vector>

#include "rtscope/conformance/abi_harness.hpp"
#include "rtscope/conformance/check_result.hpp"

namespace rtscope::conformance {

struct OpSuiteOptions {
  std::vector<std::string> ops;  // empty: every covered op
  std::vector<DType> dtypes = {DType::f32, DType::f16};
  uint64_t seed = 1;
  int seeds_per_case = 2;
};

// Throws InputError naming the valid ops when `ops` has an unknown one.
void check_op_names(const std::vector<std::string>& ops);

// Asks query_node whether the plugin runs the case on the target device.
// Throws CallFailure when query_node itself fails.
bool supports(const Target& target, const CaseGraph& graph, std::string* detail = nullptr);

std::vector<CheckResult> run_op_suite(const Target& target, const OpSuiteOptions& options);

}  // namespace rtscope::conformance
