// The C ABI surface: rts_plugin_entry hands out the function table the kit
// generates from CpuPlugin (rtscope/kit/plugin_api.hpp). What is the CPU's
// own is here: which nodes it runs.
#include <string>
#include <vector>

#include "kernels/op_spec.hpp"
#include "kit_names.hpp"
#include "plugin.hpp"
#include "rtscope/kit/plugin_api.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

rts_support CpuPlugin::query_node(uint32_t, const NodeDesc& desc, const rts_value* inputs,
                                  const rts_value* outputs) {
  rts_support answer;
  std::vector<rts_dtype> dtypes;
  const OpSpec* spec = op_table().query_node(*this, desc, inputs, outputs, dtypes, answer,
                                             [](const OpSpec&, auto) { return std::string(); });
  if (spec == nullptr) return answer;
  const char* kernel = kernel_name_for(*spec, desc);
  const bool converts = spec->f16_mode == F16Mode::kComputeInF32 &&
                        op_table().float_dtype(*spec, dtypes) == RTS_DTYPE_F16;
  answer.detail = converts ? intern(str_cat(kernel, "+f16_via_f32")) : kernel;
  return answer;
}

}  // namespace rtscope::cpu

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  return &rtscope::kit::plugin_api<rtscope::cpu::CpuPlugin>();
}
