// Lookup of op specs, and the arity, dtype, attribute and shape checks
// shared by query_node, build_engine and execute, all answered by the op
// schema so the plugin reports them in the host's words.
#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include "kernels/op_spec.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_schema_abi.hpp"

namespace rtscope::cpu {
namespace {

// Every spec with its schema, found once.
using SpecTable = std::vector<std::pair<const OpSpec*, const schema::OpSchema*>>;

const SpecTable& spec_table() {
  static const SpecTable table = [] {
    const std::array<std::span<const OpSpec>, 7> groups = {
        elementwise_op_specs(), matmul_op_specs(), norm_op_specs(),          reduction_op_specs(),
        attention_op_specs(),   shape_op_specs(),  data_dependent_op_specs()};
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

std::vector<ValueType> value_types(std::span<const rts_dtype> dtypes, std::span<const Dims> dims) {
  std::vector<ValueType> types(dtypes.size());
  for (size_t i = 0; i < dtypes.size(); ++i) {
    types[i].dtype = schema::dtype_from_abi(dtypes[i]);
    if (i < dims.size()) types[i].shape = schema::shape_from_abi(dims[i]);
  }
  return types;
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
  if (schema::is_float_input(op, input)) return InputKind::kFloat;
  const schema::InputDtype rule = schema::input_spec(op, input).dtype;
  const bool any_dtype =
      rule == schema::InputDtype::any || rule == schema::InputDtype::same_as_first;
  if (spec.float_data_only && any_dtype) return InputKind::kFloat;
  if (schema::input_spec(op, input).dtype == schema::InputDtype::position) {
    return InputKind::kPosition;
  }
  return InputKind::kOther;
}

std::string check_input_types(const OpSpec& spec, std::span<const rts_dtype> inputs,
                              std::span<const Dims> dims) {
  const schema::OpSchema& op = op_schema(spec);
  std::string reason = schema::check_input_count(op, static_cast<int>(inputs.size()));
  if (!reason.empty()) return reason;
  try {
    schema::check_input_dtypes(op, value_types(inputs, dims));
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool is_float = inputs[i] == RTS_DTYPE_F32 || inputs[i] == RTS_DTYPE_F16;
    if (input_kind(spec, i) == InputKind::kFloat && !is_float) {
      return str_cat("input ", i, " is ", dtype_name(inputs[i]),
                     "; the cpu kernel takes only f32 or f16");
    }
  }
  return {};
}

std::string check_attrs(const OpSpec& spec, const NodeDesc& node) {
  try {
    schema::resolve_attrs(op_schema(spec), schema::attrs_from_abi(std::span(node.attrs)));
  } catch (const InputError& error) {
    return error.what();
  }
  return {};
}

rts_dtype output_dtype(const OpSpec& spec, std::span<const rts_dtype> inputs) {
  std::vector<DType> dtypes;
  for (rts_dtype dtype : inputs) dtypes.push_back(schema::dtype_from_abi(dtype));
  return schema::dtype_to_abi(schema::output_dtype(op_schema(spec), dtypes));
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
  const schema::OpSchema& op = op_schema(spec);
  std::vector<schema::TensorType> types(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    types[i] = {schema::dtype_from_abi(input_dtypes[i]), *inputs[i]};
  }
  std::vector<schema::ConcreteOutput> inferred;
  try {
    inferred = schema::infer(
        op, types, schema::resolve_attrs(op, schema::attrs_from_abi(std::span(node.attrs))));
  } catch (const std::invalid_argument& error) {
    fail_node(node, error.what());
  } catch (const InputError& error) {
    fail_node(node, error.what());
  }
  for (size_t o = 0; o < outputs.size() && o < inferred.size(); ++o) {
    // The ABI carries at most RTS_MAX_RANK dims (reshape, embedding).
    if (inferred[o].dims.size() > RTS_MAX_RANK) {
      fail_node(node, "output rank ", inferred[o].dims.size(), " exceeds the ABI's maximum of ",
                RTS_MAX_RANK);
    }
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
