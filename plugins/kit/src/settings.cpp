#include "rtscope/kit/settings.hpp"

#include "rtscope/kit/error.hpp"

namespace rtscope::kit {

ContextSettings read_settings(const rts_runtime_settings* settings) {
  ContextSettings copy;
  if (settings == nullptr) return copy;
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, kernel_specialization)) {
    copy.kernel_specialization = settings->kernel_specialization;
  }
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, graph_capture)) {
    copy.graph_capture = settings->graph_capture;
  }
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, cache)) copy.cache = settings->cache;
  if (copy.kernel_specialization < RTS_KERNEL_SPECIALIZATION_LAZY ||
      copy.kernel_specialization > RTS_KERNEL_SPECIALIZATION_NONE) {
    fail_invalid("unknown kernel_specialization ", static_cast<int>(copy.kernel_specialization));
  }
  if (copy.graph_capture < RTS_GRAPH_CAPTURE_DISABLED ||
      copy.graph_capture > RTS_GRAPH_CAPTURE_WHOLE_GRAPH) {
    fail_invalid("unknown graph_capture ", static_cast<int>(copy.graph_capture));
  }
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
