// The runtime cache file format: encoding, validation and merging of entries.
//
// All integers are little-endian.
//
//   file    := header entry* trailer
//   header  := "RTSCACHE" | u32 format version (1) | u32 reserved (0)          16 bytes
//   entry   := u32 "RTSE" | u16 plugin id length | u16 fingerprint length
//              | u32 key length | u32 reserved (0) | u64 payload length
//              | u64 written ns | u64 last used ns | u64 xxh64(payload)
//              | u64 xxh64(the three strings, seeded with xxh64(the 48 bytes
//                before it))                                                 56 bytes
//              | plugin id | device fingerprint | key | payload
//   trailer := "RTSCEND!" | u64 entry count | u64 xxh64(the 16 bytes before) 24 bytes
//
// The entry header checksum covers the lengths, times and producer identity;
// the payload has its own checksum so it is hashed once per put, not on every
// save. The trailer lets a reader tell a file cut at an entry boundary from a
// complete one. Times are nanoseconds since the Unix epoch, comparable across
// processes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rtscope/runtime_cache.hpp"

namespace rtscope::cache_format {

inline constexpr uint32_t kFormatVersion = 1;
inline constexpr std::size_t kHeaderSize = 16;
inline constexpr std::size_t kEntryHeaderSize = 56;
inline constexpr std::size_t kTrailerSize = 24;
// Length bounds of the producer identity and key; they also keep a corrupt
// length from sending a reader far past the entry.
inline constexpr std::size_t kMaxPluginIdBytes = 255;
inline constexpr std::size_t kMaxFingerprintBytes = 4096;
inline constexpr std::size_t kMaxKeyBytes = 65536;

struct Entry {
  std::shared_ptr<const std::vector<uint8_t>> payload;
  uint64_t payload_hash = 0;
  uint64_t written_ns = 0;
  uint64_t last_used_ns = 0;
  // RuntimeCache bookkeeping, never stored in a file: this version, with
  // this last-used time, is known to be in the file the cache last loaded
  // from or saved to, so a save need not hand it over again.
  bool clean = false;
};
using EntryMap = std::map<CacheKey, Entry>;

// A key or id as text for a warning: its first 64 bytes, with bytes that
// could garble a terminal replaced.
std::string printable(const std::string& text);

// Empty when `key` can be stored; otherwise what is wrong with it. A plugin
// id is 1..255 printable non-space ASCII bytes; the fingerprint and key hold
// no NUL byte and stay within their bounds.
std::string identity_problem(const CacheKey& key);

uint64_t hash_payload(const void* data, std::size_t size);

// Bytes `key` with `entry` take in a file.
uint64_t encoded_size(const CacheKey& key, const Entry& entry);

// Whether `incoming` should replace `current` for the same key: the later
// write wins; a tie goes to the larger payload hash so that every process
// merging the same two entries keeps the same one.
bool replaces(const Entry& incoming, const Entry& current);

// Union of `from` into `into`: per key the newer write, with the later of the
// two last-used times.
void merge_into(EntryMap& into, const EntryMap& from);

// Removes least recently used entries from `entries` until the encoded file
// is at most `max_bytes`, and returns them.
EntryMap evict_to_fit(EntryMap& entries, uint64_t max_bytes);

// A file image as pieces in file order: the header, entry headers, keys and
// trailer live in `meta`; payloads are referenced where they are, so a save
// writes them with writev instead of copying the whole cache first. The
// EntryMap it was made from must outlive it.
struct Image {
  std::vector<uint8_t> meta;
  std::vector<std::span<const uint8_t>> pieces;
  uint64_t size = 0;
};
Image encode_image(const EntryMap& entries);

// A complete file image of `entries` in one buffer.
std::vector<uint8_t> encode(const EntryMap& entries);

struct Decoded {
  bool magic_ok = false;              // the file starts with the rtscope cache magic
  bool header_ok = false;             // ... and has a header this build reads
  uint32_t version = 0;               // as read from the header, when magic_ok
  EntryMap entries;                   // the valid entries
  uint64_t rejected = 0;              // invalid entries skipped (at least 1 if anything was wrong)
  std::vector<std::string> problems;  // what was wrong, with byte offsets (capped)
  uint64_t work_bytes = 0;            // bytes hashed or scanned: linear in the input
};

// Validates a whole file image. A bad header rejects the file (header_ok is
// false, nothing else is read). An entry whose header checksum holds but
// whose identity or payload is bad is skipped by its own length; after a bad
// header the reader resynchronizes on the next header that validates. A key
// found twice counts as one rejected entry (the newer write is kept). The
// work is linear in the input: at most about 4 bytes hashed or scanned per
// byte (Decoded::work_bytes).
//
// `known`, when given, holds entries the caller already has: a valid entry
// whose key, write time and payload checksum match one of them shares the
// caller's payload instead of a copy. Every payload is still checked, so
// the result equals a decode without `known`.
Decoded decode(std::span<const uint8_t> bytes, const EntryMap* known = nullptr);

// Why the first bytes of a file are not a header this build reads, or empty.
std::string header_problem(std::span<const uint8_t> bytes);

}  // namespace rtscope::cache_format
