// The runtime settings a context is created with, copied from the host's
// rts_runtime_settings, and the runtime cache store they may lend it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// `cache` when its struct_size covers get and put and both are set, else
// nullptr: an incomplete store counts as none (the cache only saves time).
const rts_cache_store* complete_cache(const rts_cache_store* cache);

// Reads entry `key` of a complete store into `bytes`; returns the store's
// status: RTS_OK on a hit, RTS_ERROR_NOT_FOUND on a miss.
rts_status cache_get(const rts_cache_store& cache, const char* fingerprint, const std::string& key,
                     std::vector<uint8_t>& bytes);

}  // namespace rtscope::kit
