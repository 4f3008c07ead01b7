// runtime_cache: an RAII scope that gives every module under a target one
// shared RuntimeCache, loaded on entry and saved on exit.
//
//   {
//     auto cache = rtscope::runtime_cache({decoder, encoder}, "/var/cache/app/rt.cache");
//     decoder.run(inputs);     // kernels compiled by either model land in one cache
//   }                          // saved once here (merged with the file on disk)
//
// Sources: a file path (merged with what other processes saved, file-locked,
// crash-safe), a std::iostream (read from its current position on entry,
// rewritten from position 0 on exit), or in memory only (nothing is written).
//
// Exit order: the previous settings are restored first (so no new execute
// can reach the cache), then the scope waits for executes in flight, then it
// saves (RuntimeCache::try_save_final: it waits longer for other writers). A
// save failure on exit is logged as a warning and never masks an exception
// leaving the body; call save() to get the error as an exception.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>

#include "rtscope/runtime_cache.hpp"
#include "rtscope/scopes.hpp"

namespace rtscope {

// Selects an in-memory cache that is never persisted.
struct InMemoryCache {};

class [[nodiscard]] RuntimeCacheScope {
 public:
  // Throws InputError for an empty target.
  RuntimeCacheScope(const ScopeTarget& target, const std::filesystem::path& path);
  RuntimeCacheScope(const ScopeTarget& target, std::iostream& stream);
  RuntimeCacheScope(const ScopeTarget& target, InMemoryCache);
  RuntimeCacheScope(RuntimeCacheScope&&) noexcept;
  RuntimeCacheScope& operator=(RuntimeCacheScope&&) = delete;
  RuntimeCacheScope(const RuntimeCacheScope&) = delete;
  RuntimeCacheScope& operator=(const RuntimeCacheScope&) = delete;
  ~RuntimeCacheScope();

  const std::shared_ptr<RuntimeCache>& cache() const { return cache_; }
  // Bytes read from the source on entry.
  uint64_t loaded_bytes() const { return loaded_bytes_; }

  // Saves now; throws rtscope::Error on failure. Returns bytes written (0
  // for an in-memory cache). The scope still saves again on exit.
  uint64_t save();

 private:
  RuntimeCacheScope(const ScopeTarget& target, std::optional<std::filesystem::path> path,
                    std::iostream* stream);

  std::vector<SettingsTarget*> modules_;
  std::shared_ptr<RuntimeCache> cache_;
  std::optional<std::filesystem::path> path_;
  std::iostream* stream_ = nullptr;
  uint64_t loaded_bytes_ = 0;
  std::optional<RuntimeConfigScope> attach_;
};

[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target,
                                                     const std::filesystem::path& path) {
  return RuntimeCacheScope(target, path);
}
[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target, const char* path) {
  return RuntimeCacheScope(target, std::filesystem::path(path));
}
[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target,
                                                     std::iostream& stream) {
  return RuntimeCacheScope(target, stream);
}
[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target,
                                                     InMemoryCache in_memory = {}) {
  return RuntimeCacheScope(target, in_memory);
}

}  // namespace rtscope
