#include "rtscope/kit/settings.hpp"

#include <cstdint>
#include <cstring>

#include "rtscope/kit/error.hpp"

namespace rtscope::kit {
namespace {

// An enum field of the settings, read as its stored integer (a host may
// pass any value, and loading an out-of-range enum is undefined behaviour)
// and checked to lie in [first, last].
template <typename Enum>
Enum checked_enum(const Enum& field, Enum first, Enum last, const char* name) {
  static_assert(sizeof(Enum) == sizeof(int32_t));
  int32_t raw = 0;
  std::memcpy(&raw, &field, sizeof(raw));
  if (raw < first || raw > last) fail_invalid("unknown ", name, " ", raw);
  return static_cast<Enum>(raw);
}

}  // namespace

ContextSettings read_settings(const rts_runtime_settings* settings) {
  ContextSettings copy;
  if (settings == nullptr) return copy;
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, kernel_specialization)) {
    copy.kernel_specialization =
        checked_enum(settings->kernel_specialization, RTS_KERNEL_SPECIALIZATION_LAZY,
                     RTS_KERNEL_SPECIALIZATION_NONE, "kernel_specialization");
  }
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, graph_capture)) {
    copy.graph_capture = checked_enum(settings->graph_capture, RTS_GRAPH_CAPTURE_DISABLED,
                                      RTS_GRAPH_CAPTURE_WHOLE_GRAPH, "graph_capture");
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
