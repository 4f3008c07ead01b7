// Checks of an execute's bindings against the engine's declared inputs and
// outputs, before a backend reads any of them.
#pragma once

#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

// Throws unless `args` binds exactly the engine's inputs and outputs, with
// non-NULL arrays.
void check_binding_counts(const GraphDesc& graph, const rts_execute_args& args);

// check_binding_counts, then each input binding: name (when given), dtype,
// rank, non-negative dims and enough bytes behind `data`. With
// `host_only_backend` ("cpu"), a device-resident input is refused as
// RTS_ERROR_UNSUPPORTED naming that backend.
void check_input_bindings(const GraphDesc& graph, const rts_execute_args& args,
                          const char* host_only_backend = nullptr);

}  // namespace rtscope::kit
