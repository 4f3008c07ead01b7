// The runtime settings a context is created with, copied from the host's
// rts_runtime_settings.
#pragma once

#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

struct ContextSettings {
  rts_kernel_specialization kernel_specialization = RTS_KERNEL_SPECIALIZATION_LAZY;
  rts_graph_capture graph_capture = RTS_GRAPH_CAPTURE_DISABLED;
  const rts_cache_store* cache = nullptr;  // valid until the context is destroyed
};

// Copies the fields of `settings` the caller's struct_size covers (NULL:
// defaults); throws Error on a value outside its enum.
ContextSettings read_settings(const rts_runtime_settings* settings);

}  // namespace rtscope::kit
