#include "host_callbacks.hpp"

#include <limits>
#include <new>

namespace rtscope::host_callbacks {
namespace {

int append_blob(void* user, const void* data, uint64_t size) noexcept {
  auto* out = static_cast<std::vector<uint8_t>*>(user);
  if (size == 0) return 0;
  if (out == nullptr || data == nullptr || size > out->max_size() - out->size()) return 1;
  try {
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
    return 0;
  } catch (...) {  // std::bad_alloc: the producer fails with a status
    return 1;
  }
}

void record_counter(void* user, const char* name, uint64_t value) noexcept {
  auto* out = static_cast<std::map<std::string, uint64_t>*>(user);
  if (out == nullptr || name == nullptr) return;
  try {
    (*out)[name] = value;
  } catch (...) {  // a counter lost to std::bad_alloc is not worth a crash
  }
}

}  // namespace

rts_blob_sink blob_sink(std::vector<uint8_t>& out) { return {&out, &append_blob}; }

rts_counter_sink counter_sink(std::map<std::string, uint64_t>& out) {
  return {&out, &record_counter};
}

CacheStore::CacheStore(RuntimeCache& cache, std::string plugin_id)
    : cache_(cache), plugin_id_(std::move(plugin_id)) {
  store_.struct_size = sizeof(store_);
  store_.user = this;
  store_.get = &CacheStore::get;
  store_.put = &CacheStore::put;
}

rts_status CacheStore::get(void* user, const char* fingerprint, const char* key,
                           const rts_blob_sink* sink) noexcept {
  auto* self = static_cast<CacheStore*>(user);
  if (self == nullptr || !fingerprint || !key || !sink || !sink->write) {
    return RTS_ERROR_INVALID_ARGUMENT;
  }
  try {
    auto bytes = self->cache_.get({self->plugin_id_, fingerprint, key});
    if (!bytes) return RTS_ERROR_NOT_FOUND;
    return sink->write(sink->user, bytes->data(), bytes->size()) == 0 ? RTS_OK : RTS_ERROR_INTERNAL;
  } catch (const std::bad_alloc&) {
    return RTS_ERROR_OUT_OF_MEMORY;
  } catch (...) {
    return RTS_ERROR_INTERNAL;
  }
}

rts_status CacheStore::put(void* user, const char* fingerprint, const char* key, const void* data,
                           uint64_t size) noexcept {
  auto* self = static_cast<CacheStore*>(user);
  if (self == nullptr || !fingerprint || !key || (!data && size)) {
    return RTS_ERROR_INVALID_ARGUMENT;
  }
  // An entry larger than the whole cache may hold is never stored; it would
  // be evicted on the next save anyway.
  if (size > self->cache_.options().max_bytes || size > std::numeric_limits<std::size_t>::max()) {
    return RTS_ERROR_INVALID_ARGUMENT;
  }
  try {
    self->cache_.put({self->plugin_id_, fingerprint, key}, data, static_cast<std::size_t>(size));
    return RTS_OK;
  } catch (const std::bad_alloc&) {
    return RTS_ERROR_OUT_OF_MEMORY;
  } catch (...) {
    return RTS_ERROR_INTERNAL;
  }
}

}  // namespace rtscope::host_callbacks
