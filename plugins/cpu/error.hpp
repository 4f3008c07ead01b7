// The exception type the CPU plugin uses internally and its message
// helpers, shared with the other plugins (rtscope/kit/error.hpp). The
// trampolines in plugin_entry.cpp turn Error into an rts_status plus a
// message for the host's error sink; nothing thrown ever crosses the C
// boundary.
#pragma once

#include "rtscope/kit/error.hpp"

namespace rtscope::cpu {

using kit::dtype_name;
using kit::dtype_size;
using kit::Error;
using kit::fail;
using kit::fail_invalid;
using kit::ints_str;
using kit::shape_str;
using kit::str_cat;

}  // namespace rtscope::cpu
