#include "rtscope/kit/op_table.hpp"

#include "rtscope/op_schema_abi.hpp"

namespace rtscope::kit {

namespace op_checks {

InputKind input_kind(const schema::OpSchema& op, bool float_data_only, size_t input) {
  if (schema::reads_float_data(op, input, float_data_only)) return InputKind::kFloat;
  const bool position = schema::input_spec(op, input).dtype == schema::InputDtype::position;
  return position ? InputKind::kPosition : InputKind::kOther;
}

std::string input_types(const char* backend, const schema::OpSchema& op, bool float_data_only,
                        std::span<const rts_dtype> inputs, std::span<const Dims> dims) {
  std::string reason = schema::check_abi_inputs(op, inputs, dims);
  for (size_t i = 0; reason.empty() && i < inputs.size(); ++i) {
    const bool is_float = inputs[i] == RTS_DTYPE_F32 || inputs[i] == RTS_DTYPE_F16;
    if (input_kind(op, float_data_only, i) == InputKind::kFloat && !is_float) {
      reason = str_cat("input ", i, " is ", dtype_name(inputs[i]), "; the ", backend,
                       " kernel takes only f32 or f16");
    }
  }
  return reason;
}

std::string attrs(const schema::OpSchema& op, const NodeDesc& node) {
  return schema::check_abi_attrs(op, std::span(node.attrs));
}

rts_dtype output_dtype(const schema::OpSchema& op, std::span<const rts_dtype> inputs) {
  return schema::abi_output_dtype(op, inputs);
}

rts_dtype float_dtype(const schema::OpSchema& op, bool float_data_only,
                      std::span<const rts_dtype> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (input_kind(op, float_data_only, i) == InputKind::kFloat) return inputs[i];
  }
  return RTS_DTYPE_F32;
}

void infer_output_dims(const schema::OpSchema& op, const NodeDesc& node,
                       std::span<const rts_dtype> input_dtypes, std::span<const Dims* const> inputs,
                       std::span<Dims> outputs) {
  std::vector<schema::ConcreteOutput> inferred;
  try {
    inferred = schema::infer_abi(op, input_dtypes, inputs, std::span(node.attrs));
  } catch (const std::invalid_argument& error) {
    fail_node(node, error.what());
  }
  for (size_t o = 0; o < outputs.size() && o < inferred.size(); ++o) {
    outputs[o] = std::move(inferred[o].dims);
  }
}

}  // namespace op_checks
}  // namespace rtscope::kit
