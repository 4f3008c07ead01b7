#include "rtscope/conformance/op_suite.hpp"

#include <algorithm>
#include <exception>

#include "rtscope/error.hpp"

namespace rtscope::conformance {

void check_op_names(const std::vector<std::string>& ops) {
  const std::vector<std::string> valid = covered_ops();
  for (const auto& op : ops) {
    if (std::find(valid.begin(), valid.end(), op) != valid.end()) continue;
    std::string list;
    for (const auto& name : valid) list += (list.empty() ? "" : ", ") + name;
    throw InputError("unknown op '" + op + "' in --ops; valid ops are: " + list);
  }
}

bool supports(const Target& target, const CaseGraph& graph, std::string* detail) {
  rts_support support{};
  support.struct_size = sizeof(support);
  ErrorCapture err;
  err.require_ok(
      target.api().query_node(target.handle(), target.device, &graph.node(), graph.node_inputs(),
                              graph.node_outputs(), &support, err.sink()),
      "query_node");
  if (detail) *detail = support.detail ? support.detail : "";
  return support.supported != 0;
}

namespace {

CheckResult run_case(const Target& target, const OpCase& op_case, DType dtype,
                     const OpSuiteOptions& options) {
  CheckResult row{"op " + op_case.label, std::string(to_string(dtype)), CheckStatus::passed,
                  std::nullopt, ""};
  {
    CaseGraph graph(op_case, dtype);
    std::string detail;
    if (!supports(target, graph, &detail)) {
      row.status = CheckStatus::not_supported;
      row.message = detail.empty() ? "declined by query_node" : detail;
      return row;
    }
    Engine engine = build_engine(target, graph.abi());
    Context context = create_context(target, engine);
    double max_error = 0;
    for (int s = 0; s < options.seeds_per_case; ++s) {
      const uint64_t seed = (options.seed + s) * 1000;
      const auto inputs = graph.inputs(seed);
      // Taken before executing: an in-place op may update its aliased input.
      const auto expected = graph.reference_outputs(inputs);
      const Comparison cmp = compare(graph, execute(target, engine, context, inputs), expected);
      max_error = std::max(max_error, cmp.max_abs_error);
      row.max_error = max_error;
      if (!cmp.mismatch.empty()) {
        row.status = CheckStatus::failed;
        row.message = cmp.mismatch + " (seed " + std::to_string(seed) + ")";
        return row;
      }
      if (!cmp.ok()) {
        row.status = CheckStatus::failed;
        row.message = cmp.describe() + " (seed " + std::to_string(seed) + ")";
        return row;
      }
    }
    // In-place ops run once more the way the host asks for in-place
    // execution: the output bound to its aliased input's storage.
    if (engine_info(target, engine).n_aliases > 0) {
      const uint64_t seed = (options.seed + options.seeds_per_case) * 1000;
      const auto inputs = graph.inputs(seed);
      const auto expected = graph.reference_outputs(inputs);
      const Comparison cmp = compare(
          graph, execute(target, engine, context, inputs, AliasBinding::in_place), expected);
      row.max_error = std::max(max_error, cmp.max_abs_error);
      if (!cmp.ok()) {
        row.status = CheckStatus::failed;
        row.message = "in place: " + cmp.describe() + " (seed " + std::to_string(seed) + ")";
        return row;
      }
      row.message = "separate and in-place output bindings";
    }
  }
  return row;
}

}  // namespace

std::vector<CheckResult> run_op_suite(const Target& target, const OpSuiteOptions& options) {
  check_op_names(options.ops);
  std::vector<CheckResult> results;
  std::vector<const OpCase*> cases;
  for (const auto& c : op_cases()) cases.push_back(&c);
  for (const auto& c : weight_op_cases()) cases.push_back(&c);
  for (const OpCase* each : cases) {
    const OpCase& op_case = *each;
    if (!options.ops.empty() &&
        std::find(options.ops.begin(), options.ops.end(), op_case.op) == options.ops.end())
      continue;
    for (DType dtype : options.dtypes) {
      results.push_back(observed_check("op " + op_case.label, std::string(to_string(dtype)),
                                       [&] { return run_case(target, op_case, dtype, options); }));
    }
  }
  return results;
}

}  // namespace rtscope::conformance
