// The exception type the CPU plugin uses internally and its message
// helpers, shared with the other plugins (plugin_kit/error.hpp). The
// trampolines in plugin_entry.cpp turn Error into an rts_status plus a
// message for the host's error sink; nothing thrown ever crosses the C
// boundary.
#pragma once

#include "plugin_kit/error.hpp"

namespace rtscope::cpu {

using plugin_kit::dtype_name;
using plugin_kit::dtype_size;
using plugin_kit::Error;
using plugin_kit::fail;
using plugin_kit::fail_invalid;
using plugin_kit::ints_str;
using plugin_kit::shape_str;
using plugin_kit::str_cat;

}  // namespace rtscope::cpu
