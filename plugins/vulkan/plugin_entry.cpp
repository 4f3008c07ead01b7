// The C ABI surface: rts_plugin_entry hands out the function table the kit
// generates from VulkanPlugin (rtscope/kit/plugin_api.hpp). What is the
// Vulkan plugin's own is here: which nodes run on which device.
#include <algorithm>
#include <string>
#include <vector>

#include "error.hpp"
#include "kernels/op_spec.hpp"
#include "kit_names.hpp"
#include "plugin.hpp"
#include "rtscope/kit/plugin_api.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

rts_support VulkanPlugin::query_node(uint32_t device, const NodeDesc& desc, const rts_value* inputs,
                                     const rts_value* outputs) {
  const DeviceCaps& caps = physical(device).caps;
  rts_support answer;
  std::vector<rts_dtype> dtypes;
  const OpSpec* spec =
      op_table().query_node(*this, desc, inputs, outputs, dtypes, answer,
                            [&](const OpSpec& op, std::span<const rts_dtype> types) {
                              return check_device_support(op, types, caps);
                            });
  if (spec == nullptr) return answer;
  // Name the kernel and how f16 is handled on this device.
  const bool f16 = std::find(dtypes.begin(), dtypes.end(), RTS_DTYPE_F16) != dtypes.end();
  std::string detail = kernel_name_for(*spec, desc);
  const std::vector<std::string> variants = shader_variants(*spec, dtypes, caps);
  for (size_t i = 0; i < variants.size(); ++i) {
    detail += str_cat(i == 0 ? " (" : ", ", variants[i], i + 1 == variants.size() ? ")" : "");
  }
  if (f16) {
    detail += caps.storage_16bit ? " f16 storage, f32 math"
                                 : " f16 via f32: converted while staging (no 16-bit storage)";
  }
  answer.detail = intern(detail);
  return answer;
}

}  // namespace rtscope::vulkan

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  return &rtscope::kit::plugin_api<rtscope::vulkan::VulkanPlugin>();
}
