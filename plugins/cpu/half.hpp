// IEEE 754 binary16 <-> binary32 conversion: the kit's
// (rtscope/kit/half.hpp, scalar and F16C bulk versions).
#pragma once

#include "kit_names.hpp"
#include "rtscope/kit/half.hpp"
