// How runtime cache entries are named and stored in the remote tier.
//
// Keys (NS: the deployment's namespace; FP: fingerprint_id of the entry's
// plugin id and device fingerprint; ADDR: content_address of the entry):
//
//   rtscope:NS:{FP}:index     set of the ADDRs stored for FP
//   rtscope:NS:{FP}:e:ADDR    one entry: a cache file image holding exactly it
//   rtscope:NS:fingerprints   hash FP -> "plugin id\0device fingerprint"
//
// A value is a whole cache file image (cache_format::encode of one entry), so
// a fetched value passes the file format's own validation (magic, format
// version, header and payload checksums, identity bounds) and then two more
// checks: it is of the fingerprint asked for, and it is stored under its own
// content address. The braces are a Redis Cluster hash tag: every key of one
// fingerprint lives on one shard, so a fetch is one pipelined round trip there.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache_file_format.hpp"

namespace rtscope::cache_remote {

// 32 lowercase hex digits naming (plugin id, device fingerprint).
std::string fingerprint_id(const std::string& plugin_id, const std::string& device_fingerprint);

// 32 lowercase hex digits naming an entry by its content: identity, payload
// size and payload checksum (not its times), so two hosts that produce the
// same entry store it once, and different payloads for one key never
// overwrite each other.
std::string content_address(const CacheKey& key, const cache_format::Entry& entry);

// Whether `text` has the form of a fingerprint id or content address.
bool is_hex_id(std::string_view text);

std::string encode_value(const CacheKey& key, const cache_format::Entry& entry);

struct CheckedValue {
  std::optional<std::pair<CacheKey, cache_format::Entry>> entry;  // set when valid
  std::string problem;                                            // set when not
};

// Validates a value fetched for (`plugin_id`, `device_fingerprint`) from the
// key of content address `address`.
CheckedValue check_value(std::string_view value, const std::string& plugin_id,
                         const std::string& device_fingerprint, std::string_view address);

}  // namespace rtscope::cache_remote
