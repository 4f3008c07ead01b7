// Lookup of op specs, the dtype, attribute and device checks shared by
// query_node, build_engine and execute, and helpers of the encoders.
#include <algorithm>
#include <array>

#include "op_spec.hpp"

namespace rtscope::vulkan {
namespace {

bool is_float(rts_dtype dtype) { return dtype == RTS_DTYPE_F32 || dtype == RTS_DTYPE_F16; }

const char* kind_expectation(InputKind kind) {
  switch (kind) {
    case InputKind::kFloat:
      return "f32 or f16";
    case InputKind::kAnyDtype:
      return "any dtype";
    case InputKind::kPosition:
      return "i64";
    case InputKind::kIndices:
      return "i32 or i64";
    case InputKind::kBool:
      return "bool";
  }
  return "?";
}

const char* attr_type_name(rts_attr_type type) {
  switch (type) {
    case RTS_ATTR_INT:
      return "an int";
    case RTS_ATTR_FLOAT:
      return "a real";
    case RTS_ATTR_STRING:
      return "a string";
    case RTS_ATTR_INTS:
      return "a list of ints";
  }
  return "?";
}

}  // namespace

const OpSpec* find_op_spec(std::string_view op) {
  static const std::array<std::span<const OpSpec>, 6> groups = {
      elementwise_op_specs(), matmul_op_specs(),        reduction_op_specs(),
      attention_op_specs(),   data_movement_op_specs(), data_dependent_op_specs()};
  for (std::span<const OpSpec> group : groups) {
    for (const OpSpec& spec : group) {
      if (op == spec.op) return &spec;
    }
  }
  return nullptr;
}

const char* unsupported_op_reason(std::string_view) { return "vulkan: unknown op"; }

const InputKind& input_kind(const OpSpec& spec, size_t input) {
  return spec.input_kinds[std::min(input, spec.input_kinds.size() - 1)];
}

std::string check_input_types(const OpSpec& spec, std::span<const rts_dtype> inputs) {
  const int count = static_cast<int>(inputs.size());
  if (count < spec.min_inputs || (spec.max_inputs >= 0 && count > spec.max_inputs)) {
    if (spec.max_inputs < 0) {
      return str_cat("expects at least ", spec.min_inputs, " inputs, got ", count);
    }
    if (spec.min_inputs == spec.max_inputs) {
      return str_cat("expects ", spec.min_inputs, " inputs, got ", count);
    }
    return str_cat("expects ", spec.min_inputs, " to ", spec.max_inputs, " inputs, got ", count);
  }
  int first_float = -1;
  int first_any = -1;
  for (int i = 0; i < count; ++i) {
    const InputKind kind = input_kind(spec, i);
    const rts_dtype dtype = inputs[i];
    bool ok = false;
    switch (kind) {
      case InputKind::kFloat:
        ok = is_float(dtype);
        if (ok && first_float >= 0 && inputs[first_float] != dtype) {
          return str_cat("input ", i, " is ", dtype_name(dtype), " but input ", first_float, " is ",
                         dtype_name(inputs[first_float]), " (float inputs must share one dtype)");
        }
        if (ok && first_float < 0) first_float = i;
        break;
      case InputKind::kAnyDtype:
        ok = dtype_size(dtype) > 0;
        if (ok && first_any >= 0 && inputs[first_any] != dtype) {
          return str_cat("input ", i, " is ", dtype_name(dtype), " but input ", first_any, " is ",
                         dtype_name(inputs[first_any]), " (inputs must share one dtype)");
        }
        if (ok && first_any < 0) first_any = i;
        break;
      case InputKind::kPosition:
        ok = dtype == RTS_DTYPE_I64;
        break;
      case InputKind::kIndices:
        ok = dtype == RTS_DTYPE_I32 || dtype == RTS_DTYPE_I64;
        break;
      case InputKind::kBool:
        ok = dtype == RTS_DTYPE_BOOL;
        break;
    }
    if (!ok) {
      return str_cat("input ", i, " must be ", kind_expectation(kind), ", got ", dtype_name(dtype));
    }
  }
  return {};
}

std::string check_attrs(const OpSpec& spec, const NodeDesc& node) {
  for (const AttrSpec& expected : spec.attrs) {
    const AttrDesc* attr = node.find_attr(expected.name);
    if (attr == nullptr) {
      if (expected.required) return str_cat("missing required attribute '", expected.name, "'");
      continue;
    }
    const bool int_as_real = expected.type == RTS_ATTR_FLOAT && attr->type == RTS_ATTR_INT;
    if (attr->type != expected.type && !int_as_real) {
      return str_cat("attribute '", expected.name, "' must be ", attr_type_name(expected.type),
                     ", got ", attr_type_name(attr->type));
    }
  }
  return {};
}

std::string check_device_support(const OpSpec& spec, std::span<const rts_dtype> inputs,
                                 const DeviceCaps& caps) {
  if (spec.shader_kind == ShaderKind::kRaw && !inputs.empty() &&
      device_dtype(inputs[0], caps) == RTS_DTYPE_BOOL && !caps.storage_8bit) {
    return "bool tensors need storageBuffer8BitAccess, which this device lacks";
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (input_kind(spec, i) == InputKind::kBool && !caps.storage_8bit) {
      return "bool masks need storageBuffer8BitAccess, which this device lacks";
    }
  }
  return {};
}

rts_dtype output_dtype(const OpSpec& spec, std::span<const rts_dtype> inputs) {
  if (spec.output_dtype == OutputDtype::kI64) return RTS_DTYPE_I64;
  return inputs.empty() ? RTS_DTYPE_F32 : inputs[0];
}

rts_dtype float_dtype(const OpSpec& spec, std::span<const rts_dtype> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (input_kind(spec, i) == InputKind::kFloat) return inputs[i];
  }
  return RTS_DTYPE_F32;
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
