// RuntimeCache: a thread-safe keyed store of blobs shared by modules of any
// plugin. Entries are (plugin id, device fingerprint, key) -> bytes.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace rtscope {

struct CacheKey {
  std::string plugin_id;
  std::string device_fingerprint;
  std::string key;
  auto operator<=>(const CacheKey&) const = default;
};

struct CacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t rejected = 0;
  uint64_t evicted = 0;
  uint64_t bytes = 0;  // payload bytes held now
};

class RuntimeCache {
 public:
  RuntimeCache() = default;
  RuntimeCache(const RuntimeCache&) = delete;
  RuntimeCache& operator=(const RuntimeCache&) = delete;

  // Thread-safe. A miss is counted.
  std::optional<std::vector<uint8_t>> get(const CacheKey& key);
  // Thread-safe. Copies the bytes; replaces an existing entry.
  void put(const CacheKey& key, const void* data, std::size_t size);

  std::size_t size() const;
  CacheCounters counters() const;

 private:
  mutable std::mutex mutex_;
  std::map<CacheKey, std::vector<uint8_t>> entries_;
  CacheCounters counters_;
};

}  // namespace rtscope
