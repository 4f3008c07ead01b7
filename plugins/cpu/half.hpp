// IEEE 754 binary16 <-> binary32 conversion: one copy for all plugins in
// plugin_kit/half.hpp (scalar and F16C bulk versions).
#pragma once

#include "plugin_kit/half.hpp"

namespace rtscope::cpu {

using plugin_kit::float_to_half;
using plugin_kit::half_to_float;

}  // namespace rtscope::cpu
