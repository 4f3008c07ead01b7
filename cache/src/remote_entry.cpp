#include "remote_entry.hpp"

#include <xxhash.h>

#include <cstring>

namespace rtscope::cache_remote {
namespace {

std::string hex128(const std::string& bytes) {
  const XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kDigits[(hash.high64 >> (4 * i)) & 0xf];
    out[31 - i] = kDigits[(hash.low64 >> (4 * i)) & 0xf];
  }
  return out;
}

void append_u64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

}  // namespace

std::string fingerprint_id(const std::string& plugin_id, const std::string& device_fingerprint) {
  // Identities hold no NUL byte (identity_problem), so NUL separates them.
  std::string bytes = "rtscope-fingerprint";
  bytes += '\0';
  bytes += plugin_id;
  bytes += '\0';
  bytes += device_fingerprint;
  return hex128(bytes);
}

std::string content_address(const CacheKey& key, const cache_format::Entry& entry) {
  std::string bytes = "rtscope-entry";
  bytes += '\0';
  bytes += key.plugin_id;
  bytes += '\0';
  bytes += key.device_fingerprint;
  bytes += '\0';
  bytes += key.key;
  bytes += '\0';
  append_u64(bytes, entry.payload->size());
  append_u64(bytes, entry.payload_hash);
  return hex128(bytes);
}

bool is_hex_id(std::string_view text) {
  if (text.size() != 32) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string encode_value(const CacheKey& key, const cache_format::Entry& entry) {
  const std::vector<uint8_t> image = cache_format::encode({{key, entry}});
  return {image.begin(), image.end()};
}

CheckedValue check_value(std::string_view value, const std::string& plugin_id,
                         const std::string& device_fingerprint, std::string_view address) {
  CheckedValue result;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(value.data()),
                                       value.size());
  cache_format::Decoded decoded = cache_format::decode(bytes);
  if (!decoded.header_ok || decoded.rejected > 0) {
    result.problem = decoded.problems.empty() ? std::string("not an rtscope cache entry")
                                              : decoded.problems.front();
    return result;
  }
  if (decoded.entries.size() != 1) {
    result.problem = "holds " + std::to_string(decoded.entries.size()) + " entries, not 1";
    return result;
  }
  auto& [key, entry] = *decoded.entries.begin();
  if (key.plugin_id != plugin_id || key.device_fingerprint != device_fingerprint) {
    result.problem = "an entry of another plugin or device fingerprint";
    return result;
  }
  if (content_address(key, entry) != address) {
    result.problem = "stored under a content address that is not its own";
    return result;
  }
  result.entry.emplace(key, entry);
  return result;
}

}  // namespace rtscope::cache_remote
