// IEEE 754 binary16 <-> binary32 conversion: one copy for all plugins in
// rtscope/kit/half.hpp (scalar and F16C bulk versions).
#pragma once

#include "rtscope/kit/half.hpp"

namespace rtscope::cpu {

using kit::float_to_half;
using kit::half_to_float;

}  // namespace rtscope::cpu
