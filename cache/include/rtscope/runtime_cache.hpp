// RuntimeCache: a keyed store of blobs shared by modules of any plugin and,
// through one file on disk, by several processes. Entries are
// (plugin id, device fingerprint, key) -> bytes.
//
//   auto cache = std::make_shared<rtscope::RuntimeCache>();
//   cache->load("/var/cache/app/rtscope.cache");     // missing file: cold start
//   ... modules get() and put() ...
//   cache->try_save("/var/cache/app/rtscope.cache");  // merges with what is on disk
//
// Thread safety: every member function may be called from any thread at any
// time, concurrently with any other, on the same object. Several processes
// (and several RuntimeCache objects in one process) may load and save the same
// file at once: save() merges with the file under a lock that excludes both
// threads and processes, so no update is lost; load() never blocks a writer and
// always sees one complete version of the file. The `warn` callback is never
// called with the cache's internal lock held, so it may call back into the
// cache.
//
// Validation: every entry on disk carries its producer identity, its length
// and checksums. Anything that fails validation is skipped, counted in
// `rejected` and reported through `warn`; get() never returns it.
//
// Remote tier (Options::remote, "redis://HOST:PORT/NAMESPACE"): a Redis
// server shared by a fleet, behind the local tier (memory and file). The
// first get() of a (plugin id, device fingerprint) fetches that
// fingerprint's entries the local tier lacks, in one pipelined round trip;
// save() and push_remote() store new entries under content-addressed keys
// with SET NX, so hosts never overwrite each other. A fetched entry passes
// the same validation as a file entry. Any fault (unreachable, timeout,
// refused AUTH, a full server) warns once and leaves the cache on its local
// tier; no call waits longer than the URL's timeout_ms (default 200) per
// round trip. The AUTH password comes from $RTSCOPE_REDIS_PASSWORD only.
// See docs/runtime-cache.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
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
  // Entries refused: invalid on disk or in a stream (bad checksum, malformed
  // identity, truncated), or put() with an identity that cannot be stored.
  uint64_t rejected = 0;
  // Entries dropped by the size cap on save.
  uint64_t evicted = 0;
  uint64_t bytes = 0;  // payload bytes held now
  // Total time save() waited for the file's lock, or for another process's
  // save to carry this cache's entries into the file.
  uint64_t lock_wait_ns = 0;
  // Remote tier: entries taken in from it, entries it stored new on a push,
  // fetched values refused by validation (also counted in `rejected`), and
  // faults (1 once the tier is off).
  uint64_t remote_fetched = 0;
  uint64_t remote_pushed = 0;
  uint64_t remote_rejected = 0;
  uint64_t remote_faults = 0;
};

namespace cache_remote {
class RemoteTier;
}

// Points inside a save that writes the file where Options::on_save_phase is
// called, in this order. after_lock comes once the file's lock is held,
// before the file is read.
enum class SavePhase { after_lock, after_temp_write, before_fsync, before_rename, after_rename };

class RuntimeCache {
 public:
  struct Options {
    // Size cap of the saved file. Least recently used entries beyond it are
    // evicted on save.
    uint64_t max_bytes = uint64_t{256} << 20;
    // How long save() waits for another writer of the same file. A save
    // that times out keeps its entries unsaved in memory, so the next save
    // writes them.
    std::chrono::milliseconds lock_timeout{5000};
    // How long try_save_final() waits: under heavy load (many processes
    // saving one file on few cores) a writer can take seconds, and the final
    // save's entries have no later save to ride on.
    std::chrono::milliseconds final_lock_timeout{60000};
    // Receives every warning, possibly from several threads at once.
    // Default: the rtscope logger (rtscope/log.hpp) at warn level.
    std::function<void(const std::string&)> warn{};
    // Test hook for crash injection; called at each SavePhase of a save that
    // writes the file.
    std::function<void(SavePhase)> on_save_phase{};
    // The shared remote tier, "redis://HOST[:PORT]/NAMESPACE[?timeout_ms=N]";
    // empty for none. The constructor throws InputError for a malformed
    // URL; it never connects (the first fetch or push does).
    std::string remote{};
  };

  // Throws InputError naming `url` and what is wrong with it unless it is a
  // valid Options::remote.
  static void check_remote(const std::string& url);

  // Two constructors rather than `Options options = {}`: a nested struct with
  // member initializers cannot be a default argument inside its own class.
  RuntimeCache();
  explicit RuntimeCache(Options options);
  ~RuntimeCache();
  RuntimeCache(const RuntimeCache&) = delete;
  RuntimeCache& operator=(const RuntimeCache&) = delete;

  // A hit returns a copy of the bytes and marks the entry used; a miss is
  // counted.
  std::optional<std::vector<uint8_t>> get(const CacheKey& key);
  // Copies the bytes; replaces an existing entry. A key whose identity
  // cannot be stored (empty or non-printable plugin id, a NUL byte, a field
  // over its length bound) is counted as rejected, warned about and dropped.
  void put(const CacheKey& key, const void* data, std::size_t size);

  std::size_t size() const;
  CacheCounters counters() const;
  const Options& options() const { return options_; }

  // Reads the cache file at `path` and returns the number of bytes read. The
  // bytes wait in a pending buffer and are validated and merged into the
  // cache on first use (for a duplicate key the newer write wins). A missing
  // or empty file is a cold start and returns 0 without a warning; an
  // unreadable file, one with a bad header, one that is not a regular file
  // or is reached through a symbolic link, one over max_bytes, or one in a
  // folder others may write to without the sticky bit is ignored with one
  // warning and returns 0.
  uint64_t load(const std::filesystem::path& path);
  // Same for a stream holding a cache file image; reads it to the end, at
  // most max_bytes (a longer stream is ignored with a warning). An empty
  // stream is an empty cache.
  uint64_t load_from_stream(std::istream& in);

  // Merges this cache with the file at `path` (union; for a duplicate key the
  // newer write wins), evicts least recently used entries over max_bytes and
  // replaces the file atomically; returns the bytes written. Invalid entries
  // found in the file are dropped and counted.
  //
  // When another process holds the file's lock, this cache's entries that
  // the file may lack are handed to that writer instead of waiting for a
  // whole rewrite of its own, and save() returns once a new version holding
  // them is durable (see cache/src/cache_file_saver.hpp). Only a save that
  // wrote the file itself takes in the entries other processes saved.
  //
  // Missing folders of `path` are created (0700 under $XDG_CACHE_HOME or
  // ~/.cache, elsewhere as the umask says); the file's mode follows the
  // umask.
  //
  // Throws rtscope::Error naming the path and the cause (I/O error, lock
  // timeout, a folder others may write to without the sticky bit, or a file
  // at `path` that is not an rtscope cache or is another format version, is
  // a symbolic link, a device or FIFO, or is over max_bytes: such a file is
  // never overwritten); the in-memory entries are kept for the next save.
  //
  // With a remote tier, entries it may lack are pushed after the file is
  // written (or failed to be); a push never throws (see push_remote).
  uint64_t save(const std::filesystem::path& path);
  // save() that reports a failure through `warn` and returns false, so the
  // caller goes on without the file.
  bool try_save(const std::filesystem::path& path);
  // try_save() for the last save of these entries (a scope's exit, a
  // module's destruction): it waits up to final_lock_timeout, since no
  // later save would carry what it cannot write.
  bool try_save_final(const std::filesystem::path& path);
  // Writes this cache as a cache file image (after eviction over max_bytes)
  // and returns the number of bytes written. Throws rtscope::Error if the
  // stream fails.
  uint64_t save_to_stream(std::ostream& out);

  // Stores the entries the remote tier is not known to hold (save() calls
  // it) and returns how many it stored new. Without a remote tier, or once
  // it is off, returns 0. Never throws: a fault warns once and turns the
  // tier off.
  uint64_t push_remote();

 private:
  struct State;  // entries, pending bytes, counters; defined in runtime_cache.cpp

  uint64_t save_waiting(const std::filesystem::path& path, std::chrono::milliseconds lock_timeout);
  uint64_t save_file(const std::filesystem::path& canonical_path,
                     std::chrono::milliseconds lock_timeout);
  // Queues a file image for validation on first use; returns its size, or 0
  // when its header is bad.
  uint64_t add_pending(std::vector<uint8_t> bytes, const std::string& source,
                       const std::filesystem::path& canonical);
  void warn_all(const std::vector<std::string>& warnings) const;
  // Returns `body(state)` run under the state's lock once loaded bytes are
  // validated, and warns about what validation rejected after unlocking.
  template <class Body>
  auto with_state(Body body) const;
  // Takes in the remote entries of `key`'s fingerprint on its first use.
  void fetch_remote(const CacheKey& key);

  Options options_;
  std::unique_ptr<State> state_;
  std::unique_ptr<cache_remote::RemoteTier> remote_;
};

}  // namespace rtscope
