// Lookup of op specs; the arity, dtype, attribute and shape checks shared
// by query_node, build_engine and execute, answered by the op schema so the
// plugin reports them in the host's words; device checks and helpers of the
// encoders.
#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include "op_spec.hpp"
#include "rtscope/op_schema_abi.hpp"

namespace rtscope::vulkan {
namespace {

// Every spec with its schema, found once.
using SpecTable = std::vector<std::pair<const OpSpec*, const schema::OpSchema*>>;

const SpecTable& spec_table() {
  static const SpecTable table = [] {
    const std::array<std::span<const OpSpec>, 6> groups = {
        elementwise_op_specs(), matmul_op_specs(),        reduction_op_specs(),
        attention_op_specs(),   data_movement_op_specs(), data_dependent_op_specs()};
    SpecTable result;
    for (std::span<const OpSpec> group : groups) {
      for (const OpSpec& spec : group) {
        const schema::OpSchema* op = schema::find_op(spec.op);
        // A kernel for an op the schema lacks is a bug in this plugin.
        if (op == nullptr)
          throw std::logic_error(str_cat("vulkan: no op schema for '", spec.op, "'"));
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

const char* unsupported_op_reason(std::string_view) { return "vulkan: unknown op"; }

const schema::OpSchema& op_schema(const OpSpec& spec) {
  for (const auto& [known, op] : spec_table()) {
    if (known == &spec) return *op;
  }
  throw std::logic_error(str_cat("vulkan: op spec '", spec.op, "' is not in the catalog"));
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
                       "; the vulkan kernel takes only f32 or f16");
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
  if (spec.check_kernel_shapes != nullptr) spec.check_kernel_shapes(node, inputs);
}

std::string check_device_support(const OpSpec& spec, std::span<const rts_dtype> inputs,
                                 const DeviceCaps& caps) {
  if (spec.shader_kind == ShaderKind::kRaw && !inputs.empty() &&
      device_dtype(inputs[0], caps) == RTS_DTYPE_BOOL && !caps.storage_8bit) {
    return "bool tensors need storageBuffer8BitAccess, which this device lacks";
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == RTS_DTYPE_BOOL && !caps.storage_8bit) {
      return "bool masks need storageBuffer8BitAccess, which this device lacks";
    }
  }
  return {};
}

rts_dtype device_dtype(rts_dtype dtype, const DeviceCaps& caps) {
  return dtype == RTS_DTYPE_F16 && !caps.storage_16bit ? RTS_DTYPE_F32 : dtype;
}

std::vector<std::string> shader_variants(const OpSpec& spec, std::span<const rts_dtype> inputs,
                                         const DeviceCaps& caps) {
  std::string suffix;
  switch (spec.shader_kind) {
    case ShaderKind::kNone:
      return {};
    case ShaderKind::kFloat:
      suffix = device_dtype(float_dtype(spec, inputs), caps) == RTS_DTYPE_F16 ? "_f16" : "_f32";
      break;
    case ShaderKind::kRaw: {
      const size_t bytes = dtype_size(device_dtype(inputs[0], caps));
      // 8-byte elements move as two 32-bit words.
      suffix = bytes >= 4 ? "_b32" : bytes == 2 ? "_b16" : "_b8";
      break;
    }
  }
  std::vector<std::string> variants = {spec.shader + suffix};
  if (spec.alternate_shader != nullptr) variants.push_back(spec.alternate_shader + suffix);
  if (spec.coop_matrix_shader != nullptr && caps.coop_matrix_f16 && suffix == "_f16") {
    variants.push_back(spec.coop_matrix_shader);
  }
  return variants;
}

int normalize_axis(const NodeDesc& node, int64_t axis, size_t rank) {
  const int64_t signed_rank = static_cast<int64_t>(rank);
  const int64_t normalized = axis < 0 ? axis + signed_rank : axis;
  if (normalized < 0 || normalized >= signed_rank) {
    fail_node(node, "axis ", axis, " is out of range for rank ", rank);
  }
  return static_cast<int>(normalized);
}

Groups linear_groups(uint64_t count, const DeviceCaps& caps) {
  const uint64_t groups = (count + caps.linear_workgroup - 1) / caps.linear_workgroup;
  return {static_cast<uint32_t>(std::clamp<uint64_t>(groups, 1, caps.max_group_count[0])), 1, 1};
}

Groups row_groups(uint64_t rows, const DeviceCaps& caps) {
  return {static_cast<uint32_t>(std::clamp<uint64_t>(rows, 1, caps.max_group_count[0])), 1, 1};
}

uint32_t to_u32(const NodeDesc& node, uint64_t value, const char* what) {
  if (value > UINT32_MAX) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": ", what, " ", value,
         " exceeds the 32-bit indexing of the Vulkan kernels");
  }
  return static_cast<uint32_t>(value);
}

std::vector<int64_t> contiguous_strides(std::span<const int64_t> dims) {
  std::vector<int64_t> strides(dims.size());
  int64_t stride = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= dims[i];
  }
  return strides;
}

}  // namespace rtscope::vulkan
