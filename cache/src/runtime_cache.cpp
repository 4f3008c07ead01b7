#include "rtscope/runtime_cache.hpp"

namespace rtscope {

std::optional<std::vector<uint8_t>> RuntimeCache::get(const CacheKey& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    ++counters_.misses;
    return std::nullopt;
  }
  ++counters_.hits;
  return it->second;
}

void RuntimeCache::put(const CacheKey& key, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  std::lock_guard lock(mutex_);
  auto& slot = entries_[key];
  counters_.bytes -= slot.size();
  slot.assign(bytes, bytes + size);
  counters_.bytes += size;
}

std::size_t RuntimeCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

CacheCounters RuntimeCache::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace rtscope
