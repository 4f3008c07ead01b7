// A connection to the Redis server of a runtime cache's remote tier (hiredis
// underneath, kept out of every header).
//
// Every call is bounded in time: the connect by the location's timeout, and
// each round trip (all commands of a call pipelined, then all replies read)
// by the same timeout from its start, whatever the server does (never
// answering, answering byte by byte). Replies are bounded in size too.
// A call that fails throws rtscope::Error naming the server and the cause
// (unreachable, timed out, refused AUTH, an error reply such as OOM, an
// unexpected reply) and closes the connection; the next call reconnects.
//
// AUTH: when RTSCOPE_REDIS_PASSWORD is set, the connect sends AUTH with it
// (and with RTSCOPE_REDIS_USER as the user when that is set).
//
// Not thread-safe: one caller at a time (RemoteTier serializes).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis_url.hpp"

namespace rtscope::cache_remote {

inline constexpr const char* kPasswordVariable = "RTSCOPE_REDIS_PASSWORD";
inline constexpr const char* kUserVariable = "RTSCOPE_REDIS_USER";

// An entry of one fingerprint as read from the server: its content address
// and its value, or no value when the index lists it but the key is gone
// (evicted or expired).
struct StoredValue {
  std::string address;
  std::optional<std::string> value;
};

// One entry to store.
struct PushItem {
  std::string fingerprint_id;
  std::string identity;  // plugin id, NUL, device fingerprint (for listings)
  std::string address;
  std::string value;
};

class RedisClient {
 public:
  // `max_reply_bytes` caps the bytes one round trip may receive.
  RedisClient(RedisLocation location, uint64_t max_reply_bytes);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  const RedisLocation& location() const { return location_; }

  // Every entry stored for the fingerprint, in one round trip.
  std::vector<StoredValue> fetch_all(const std::string& fingerprint_id);
  // The content addresses stored for the fingerprint.
  std::vector<std::string> addresses(const std::string& fingerprint_id);
  // The values at `addresses` of the fingerprint, in their order, in one
  // round trip.
  std::vector<StoredValue> fetch(const std::string& fingerprint_id,
                                 const std::vector<std::string>& addresses);
  // Stores the items (SET NX: an existing key is kept, never overwritten)
  // and lists them in their fingerprint's index, in one round trip. Returns
  // how many keys were new.
  uint64_t push(const std::vector<PushItem>& items);
  // Fingerprint id -> identity (plugin id, NUL, device fingerprint) of every
  // fingerprint pushed to the namespace.
  std::vector<std::pair<std::string, std::string>> fingerprints();

  std::string index_key(const std::string& fingerprint_id) const;
  std::string entry_key(const std::string& fingerprint_id, const std::string& address) const;
  std::string fingerprints_key() const;

 private:
  struct Connection;  // the hiredis context; defined in redis_client.cpp
  struct Reply;

  void connect();
  // Sends `commands` pipelined and returns their replies in order; an error
  // reply throws.
  std::vector<std::shared_ptr<Reply>> round_trip(
      const std::vector<std::vector<std::string>>& commands);
  [[noreturn]] void fail(const std::string& cause);

  RedisLocation location_;
  uint64_t max_reply_bytes_;
  std::unique_ptr<Connection> connection_;
  const char* doing_ = "";  // what the current call is for, in messages
};

}  // namespace rtscope::cache_remote
