// The C ABI surface: rts_plugin_entry hands out the function table the kit
// generates from VulkanPlugin (rtscope/kit/plugin_api.hpp). What is the
// Vulkan plugin's own is here: which nodes run on which device.
#include <algorithm>
#include <string>
#include <vector>

#include "error.hpp"
#include "graph_desc.hpp"
#include "op_spec.hpp"
#include "plugin.hpp"
#include "rtscope/kit/plugin_api.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

rts_support VulkanPlugin::query_node(uint32_t device, const NodeDesc& desc, const rts_value* inputs,
                                     const rts_value* outputs) {
  const DeviceCaps& caps = physical(device).caps;
  rts_support answer{};
  const OpSpec* spec = find_op_spec(desc.op);
  if (spec == nullptr) {
    answer.detail = unsupported_op_reason(desc.op);
    return answer;
  }
  std::vector<rts_dtype> dtypes;
  std::vector<Dims> dims;
  for (size_t i = 0; i < desc.inputs.size(); ++i) {
    dtypes.push_back(inputs[i].dtype);
    dims.push_back(copy_value(inputs[i], "input").dims);
  }
  std::string reason = check_input_types(*spec, dtypes, dims);
  if (reason.empty()) reason = check_attrs(*spec, desc);
  if (reason.empty()) reason = check_device_support(*spec, dtypes, caps);
  if (reason.empty()) {
    reason = kit::check_queried_outputs(
        desc, inputs, outputs, [&] { return output_dtype(*spec, dtypes); },
        [&](auto input_dims, auto output_dims) {
          infer_output_dims(*spec, desc, dtypes, input_dims, output_dims);
        });
  }
  if (!reason.empty()) {
    answer.detail = refusal(desc, reason);
    return answer;
  }
  answer.supported = 1;
  answer.needs_output_allocation = is_data_dependent(*spec, desc) ? 1 : 0;
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
