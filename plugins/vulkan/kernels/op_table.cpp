// The Vulkan plugin's op table (every kernel group, checked against the op
// schema once), device checks of a node and helpers of the encoders.
#include <algorithm>

#include "kernels/op_spec.hpp"

namespace rtscope::vulkan {

const kit::OpTable<OpSpec>& op_table() {
  using enum kit::OpFamily;
  static const kit::OpTable<OpSpec> table(
      "vulkan", {kOpSpecs<kElementwise>, kOpSpecs<kMatmul>, kOpSpecs<kNorm>, kOpSpecs<kReduction>,
                 kOpSpecs<kAttention>, kOpSpecs<kShape>, kOpSpecs<kDataDependent>, kOpSpecs<kMath>,
                 kOpSpecs<kReduce>, kOpSpecs<kWindow>, kOpSpecs<kSelect>});
  return table;
}

std::string check_device_support(const OpSpec& spec, std::span<const rts_dtype> inputs,
                                 const DeviceCaps& caps) {
  if (spec.shader_kind == ShaderKind::kFixed && (!caps.storage_8bit || !caps.storage_16bit)) {
    return str_cat(spec.shader,
                   ".comp reads and writes every dtype through "
                   "storageBuffer8BitAccess and storageBuffer16BitAccess, which this device lacks");
  }
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
    case ShaderKind::kFixed:
      return {spec.shader};
    case ShaderKind::kFloat:
      suffix = device_dtype(op_table().float_dtype(spec, inputs), caps) == RTS_DTYPE_F16 ? "_f16"
                                                                                         : "_f32";
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

}  // namespace rtscope::vulkan
