#include "rtscope/kit/settings.hpp"

#include <cstdint>
#include <cstring>

#include "rtscope/kit/error.hpp"

namespace rtscope::kit {

ContextSettings read_settings(const rts_runtime_settings* settings) {
  ContextSettings copy;
  if (settings == nullptr) return copy;
  // The enums are read as their stored integers: a host may pass any value,
  // and loading an out-of-range enum is undefined behaviour.
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, kernel_specialization)) {
    int32_t raw = 0;
    std::memcpy(&raw, &settings->kernel_specialization, sizeof(raw));
    if (raw < RTS_KERNEL_SPECIALIZATION_LAZY || raw > RTS_KERNEL_SPECIALIZATION_NONE) {
      fail_invalid("unknown kernel_specialization ", raw);
    }
    copy.kernel_specialization = static_cast<rts_kernel_specialization>(raw);
  }
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, graph_capture)) {
    int32_t raw = 0;
    std::memcpy(&raw, &settings->graph_capture, sizeof(raw));
    if (raw < RTS_GRAPH_CAPTURE_DISABLED || raw > RTS_GRAPH_CAPTURE_WHOLE_GRAPH) {
      fail_invalid("unknown graph_capture ", raw);
    }
    copy.graph_capture = static_cast<rts_graph_capture>(raw);
  }
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, cache)) copy.cache = settings->cache;
  return copy;
}

const rts_cache_store* complete_cache(const rts_cache_store* cache) {
  const bool complete = cache != nullptr && RTS_HAS_FIELD(cache, rts_cache_store, put) &&
                        cache->get != nullptr && cache->put != nullptr;
  return complete ? cache : nullptr;
}

rts_status cache_get(const rts_cache_store& cache, const char* fingerprint, const std::string& key,
                     std::vector<uint8_t>& bytes) {
  bytes.clear();
  const rts_blob_sink sink{&bytes, [](void* user, const void* data, uint64_t size) {
                             const auto* begin = static_cast<const uint8_t*>(data);
                             static_cast<std::vector<uint8_t>*>(user)->assign(begin, begin + size);
                             return 0;
                           }};
  return cache.get(cache.user, fingerprint, key.c_str(), &sink);
}

}  // namespace rtscope::kit
