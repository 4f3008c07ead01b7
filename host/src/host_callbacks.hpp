// The host functions a plugin calls back into: the blob sink a plugin writes
// a serialized engine to, the counter sink, and the runtime cache store a
// context is lent. A plugin may pass anything (NULL, a size larger than
// memory, a name that is not a string), so each callback checks its
// arguments, turns every failure into a status or a dropped value, and never
// lets an exception unwind into plugin frames (the ABI is C).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rtscope/plugin_abi.h"
#include "rtscope/runtime_cache.hpp"

namespace rtscope::host_callbacks {

// Appends every write to `out`; a write that does not fit in memory, or NULL
// data with a nonzero size, aborts the producer (a nonzero return).
rts_blob_sink blob_sink(std::vector<uint8_t>& out);

// Records each counter in `out`; a NULL name is dropped.
rts_counter_sink counter_sink(std::map<std::string, uint64_t>& out);

// The runtime cache store a context of plugin `plugin_id` is lent: every
// key's plugin half comes from the host, never from the plugin. Owns its
// scope; the store it hands out is valid while this object lives.
class CacheStore {
 public:
  CacheStore(RuntimeCache& cache, std::string plugin_id);
  CacheStore(const CacheStore&) = delete;
  CacheStore& operator=(const CacheStore&) = delete;

  const rts_cache_store* abi() const { return &store_; }

 private:
  RuntimeCache& cache_;
  std::string plugin_id_;
  rts_cache_store store_{};

  static rts_status get(void* user, const char* fingerprint, const char* key,
                        const rts_blob_sink* sink) noexcept;
  static rts_status put(void* user, const char* fingerprint, const char* key, const void* data,
                        uint64_t size) noexcept;
};

}  // namespace rtscope::host_callbacks
