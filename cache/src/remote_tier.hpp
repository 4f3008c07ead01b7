// The remote tier of a RuntimeCache: fetches the entries of a (plugin id,
// device fingerprint) that the local tier lacks, once per fingerprint, and
// pushes entries the server may lack. Every fetched value is validated (see
// remote_entry.hpp) before it is returned; an invalid one is counted and
// never returned.
//
// Degradation: the first fault (unreachable server, timeout, refused AUTH,
// a full server refusing writes, a malformed reply) turns the tier off for
// the life of this object, with one warning; the cache goes on with its
// local tier. No call waits longer than the location's timeout per round
// trip (a fetch is at most two round trips, a push one, after a connect
// bounded by the same timeout).
//
// Thread safety: every member function may be called from any thread;
// calls are serialized, so callers asking for one fingerprint at once wait
// for the first one's fetch and then find it done.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cache_file_format.hpp"
#include "redis_client.hpp"

namespace rtscope::cache_remote {

struct FetchResult {
  cache_format::EntryMap entries;  // valid entries the local tier lacked
  uint64_t rejected = 0;           // values refused by validation
  uint64_t faults = 0;             // 1 when this call turned the tier off
  std::vector<std::string> warnings;
};

struct PushResult {
  uint64_t pushed = 0;  // entries the server stored new
  uint64_t faults = 0;  // 1 when this call turned the tier off
  std::vector<std::string> warnings;
};

// `key` with `entry` as the remote tier stores it.
PushItem push_item(const CacheKey& key, const cache_format::Entry& entry);

class RemoteTier {
 public:
  RemoteTier(RedisLocation location, uint64_t max_reply_bytes);

  const RedisLocation& location() const { return client_.location(); }

  // The entries of the fingerprint the local tier lacks, on the first call
  // for that fingerprint; empty on later calls and once the tier is off.
  // `local_addresses` is called (under this tier's lock) for the content
  // addresses of the local entries of that fingerprint.
  FetchResult fetch(const std::string& plugin_id, const std::string& device_fingerprint,
                    const std::function<std::set<std::string>()>& local_addresses);

  // Pushes the entries the server is not known to hold.
  PushResult push(const cache_format::EntryMap& entries);

 private:
  void turn_off(const std::string& cause, std::vector<std::string>& warnings);

  std::mutex mutex_;
  RedisClient client_;
  bool on_ = true;
  bool warned_gone_ = false;
  std::set<std::string> fetched_;  // fingerprint ids
  std::set<std::string> known_;    // content addresses the server holds
};

}  // namespace rtscope::cache_remote
