// The kit (rtscope/kit) is this plugin's base layer: its names - Error,
// fail, GraphDesc, Dims, half_to_float, ... - are used here unqualified,
// as the plugin's own. A name the plugin declares itself hides the kit's.
// Include it for the kit's graph copy, Error and half conversion.
#pragma once

#include "rtscope/kit/error.hpp"
#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/kit/half.hpp"

namespace rtscope::cpu {
using namespace rtscope::kit;  // NOLINT(google-build-using-namespace)
}  // namespace rtscope::cpu
