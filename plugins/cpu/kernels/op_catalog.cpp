// Lookup of op specs, and the arity, dtype, attribute and shape checks
// shared by query_node, build_engine and execute, all answered by the op
// schema so the plugin reports them in the host's words.
#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include "kernels/op_spec.hpp"
#include "rtscope/op_schema_abi.hpp"

namespace rtscope::cpu {
namespace {

// Every spec with its schema, found once.
using SpecTable = std::vector<std::pair<const OpSpec*, const schema::OpSchema*>>;

const SpecTable& spec_table() {
  static const SpecTable table = [] {
    const std::array<std::span<const OpSpec>, 11> groups = {
        elementwise_op_specs(), matmul_op_specs(), norm_op_specs(),           reduction_op_specs(),
        attention_op_specs(),   shape_op_specs(),  data_dependent_op_specs(), math_op_specs(),
        reduce_op_specs(),      window_op_specs(), select_op_specs()};
    SpecTable result;
    for (std::span<const OpSpec> group : groups) {
      for (const OpSpec& spec : group) {
        const schema::OpSchema* op = schema::find_op(spec.op);
        // A kernel for an op the schema lacks is a bug in this plugin.
        if (op == nullptr) throw std::logic_error(str_cat("cpu: no op schema for '", spec.op, "'"));
        result.emplace_back(&spec, op);
      }
    }
    return result;
  }();
  return table;
}

}  // namespace

const OpSpec* find_op_spec(std::string_view op) {
  for (const auto& [spec, op_schema] : spec_table()) {
    if (op == spec->op) return spec;
  }
  return nullptr;
}

const char* unsupported_op_reason(std::string_view) { return "cpu: unknown op"; }

const schema::OpSchema& op_schema(const OpSpec& spec) {
  for (const auto& [known, op] : spec_table()) {
    if (known == &spec) return *op;
  }
  throw std::logic_error(str_cat("cpu: op spec '", spec.op, "' is not in the catalog"));
}

InputKind input_kind(const OpSpec& spec, size_t input) {
  const schema::OpSchema& op = op_schema(spec);
  if (schema::reads_float_data(op, input, spec.float_data_only)) return InputKind::kFloat;
  const bool position = schema::input_spec(op, input).dtype == schema::InputDtype::position;
  return position ? InputKind::kPosition : InputKind::kOther;
}

std::string check_input_types(const OpSpec& spec, std::span<const rts_dtype> inputs,
                              std::span<const Dims> dims) {
  std::string reason = schema::check_abi_inputs(op_schema(spec), inputs, dims);
  for (size_t i = 0; reason.empty() && i < inputs.size(); ++i) {
    const bool is_float = inputs[i] == RTS_DTYPE_F32 || inputs[i] == RTS_DTYPE_F16;
    if (input_kind(spec, i) == InputKind::kFloat && !is_float) {
      reason = str_cat("input ", i, " is ", dtype_name(inputs[i]),
                       "; the cpu kernel takes only f32 or f16");
    }
  }
  return reason;
}

std::string check_attrs(const OpSpec& spec, const NodeDesc& node) {
  return schema::check_abi_attrs(op_schema(spec), std::span(node.attrs));
}

rts_dtype output_dtype(const OpSpec& spec, std::span<const rts_dtype> inputs) {
  return schema::abi_output_dtype(op_schema(spec), inputs);
}

rts_dtype float_dtype(const OpSpec& spec, std::span<const rts_dtype> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (input_kind(spec, i) == InputKind::kFloat) return inputs[i];
  }
  return RTS_DTYPE_F32;
}

void infer_output_dims(const OpSpec& spec, const NodeDesc& node,
                       std::span<const rts_dtype> input_dtypes, std::span<const Dims* const> inputs,
                       std::span<Dims> outputs) {
  std::vector<schema::ConcreteOutput> inferred;
  try {
    inferred = schema::infer_abi(op_schema(spec), input_dtypes, inputs, std::span(node.attrs));
  } catch (const std::invalid_argument& error) {
    fail_node(node, error.what());
  }
  for (size_t o = 0; o < outputs.size() && o < inferred.size(); ++o) {
    outputs[o] = std::move(inferred[o].dims);
  }
}

int normalize_axis(const NodeDesc& node, int64_t axis, size_t rank) {
  const int64_t signed_rank = static_cast<int64_t>(rank);
  const int64_t normalized = axis < 0 ? axis + signed_rank : axis;
  if (normalized < 0 || normalized >= signed_rank) {
    fail_node(node, "axis ", axis, " is out of range for rank ", rank);
  }
  return static_cast<int>(normalized);
}

}  // namespace rtscope::cpu
