// The C ABI surface: rts_plugin_entry hands out the function table the kit
// generates from CpuPlugin (rtscope/kit/plugin_api.hpp). What is the CPU's
// own is here: which nodes it runs.
#include <string>
#include <vector>

#include "error.hpp"
#include "graph_desc.hpp"
#include "kernels/op_spec.hpp"
#include "plugin.hpp"
#include "rtscope/kit/plugin_api.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

rts_support CpuPlugin::query_node(uint32_t, const NodeDesc& desc, const rts_value* inputs,
                                  const rts_value* outputs) {
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
  const char* kernel = kernel_name_for(*spec, desc);
  const bool converts =
      spec->f16_mode == F16Mode::kComputeInF32 && float_dtype(*spec, dtypes) == RTS_DTYPE_F16;
  answer.detail = converts ? intern(str_cat(kernel, "+f16_via_f32")) : kernel;
  return answer;
}

}  // namespace rtscope::cpu

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  return &rtscope::kit::plugin_api<rtscope::cpu::CpuPlugin>();
}
