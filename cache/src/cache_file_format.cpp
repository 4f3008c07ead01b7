#include "cache_file_format.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

namespace rtscope::cache_format {
namespace {

constexpr char kFileMagic[8] = {'R', 'T', 'S', 'C', 'A', 'C', 'H', 'E'};
constexpr char kEntryMagic[4] = {'R', 'T', 'S', 'E'};
constexpr char kTrailerMagic[8] = {'R', 'T', 'S', 'C', 'E', 'N', 'D', '!'};
constexpr std::size_t kMaxProblems = 32;

void store_le(uint8_t* at, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) at[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{p[i]} << (8 * i);
  return value;
}

uint64_t header_hash(const uint8_t* header48, const uint8_t* strings, std::size_t strings_size) {
  return XXH64(strings, strings_size, XXH64(header48, 48, 0));
}

struct ParsedEntry {
  CacheKey key;
  Entry entry;
  std::size_t size = 0;
};

// The fixed fields of an entry header.
struct EntryHead {
  std::size_t strings_len = 0;
  uint64_t payload_len = 0;
};

// Checks the 56-byte entry header at `h`, `remaining` bytes before the end of
// the file: magic, bounds, and that the entry fits.
std::optional<EntryHead> parse_head(const uint8_t* h, uint64_t remaining, std::string* why) {
  if (remaining < kEntryHeaderSize) {
    *why = "truncated entry header";
    return std::nullopt;
  }
  if (std::memcmp(h, kEntryMagic, 4) != 0) {
    *why = "bad entry magic";
    return std::nullopt;
  }
  const std::size_t plugin_len = get_le(h + 4, 2);
  const std::size_t fingerprint_len = get_le(h + 6, 2);
  const std::size_t key_len = get_le(h + 8, 4);
  EntryHead head;
  head.payload_len = get_le(h + 16, 8);
  if (get_le(h + 12, 4) != 0 || plugin_len > kMaxPluginIdBytes ||
      fingerprint_len > kMaxFingerprintBytes || key_len > kMaxKeyBytes) {
    *why = "entry header fields out of range";
    return std::nullopt;
  }
  head.strings_len = plugin_len + fingerprint_len + key_len;
  if (head.strings_len > remaining - kEntryHeaderSize ||
      head.payload_len > remaining - kEntryHeaderSize - head.strings_len) {
    *why = "entry runs past the end of the file";
    return std::nullopt;
  }
  return head;
}

// Given the header and the strings after it (`h` holds both), checks the
// header checksum and the producer identity, and fills everything of
// `parsed` but the payload. A payload of `known` is taken when it matches.
bool parse_identity(const uint8_t* h, const EntryHead& head, const EntryMap* known,
                    ParsedEntry& parsed, std::string* why) {
  const uint8_t* strings = h + kEntryHeaderSize;
  if (header_hash(h, strings, head.strings_len) != get_le(h + 48, 8)) {
    *why = "entry header checksum mismatch";
    return false;
  }
  const std::size_t plugin_len = get_le(h + 4, 2);
  const std::size_t fingerprint_len = get_le(h + 6, 2);
  const auto* chars = reinterpret_cast<const char*>(strings);
  parsed.key.plugin_id.assign(chars, plugin_len);
  parsed.key.device_fingerprint.assign(chars + plugin_len, fingerprint_len);
  parsed.key.key.assign(chars + plugin_len + fingerprint_len,
                        head.strings_len - plugin_len - fingerprint_len);
  // Checksums prove the bytes are what the writer wrote, not that the writer
  // was well-formed: the identity is checked like a put().
  if (std::string problem = identity_problem(parsed.key); !problem.empty()) {
    *why = "malformed producer identity: " + problem;
    return false;
  }
  parsed.entry.payload_hash = get_le(h + 40, 8);
  parsed.entry.written_ns = get_le(h + 24, 8);
  parsed.entry.last_used_ns = get_le(h + 32, 8);
  parsed.size = kEntryHeaderSize + head.strings_len + head.payload_len;
  if (known) {
    auto it = known->find(parsed.key);
    if (it != known->end() && it->second.written_ns == parsed.entry.written_ns &&
        it->second.payload_hash == parsed.entry.payload_hash &&
        it->second.payload->size() == head.payload_len) {
      parsed.entry.payload = it->second.payload;
    }
  }
  return true;
}

// Checks a payload read from the file against its checksum and takes it.
bool take_payload(std::vector<uint8_t> payload, ParsedEntry& parsed, std::string* why) {
  if (hash_payload(payload.data(), payload.size()) != parsed.entry.payload_hash) {
    *why = "entry payload checksum mismatch";
    return false;
  }
  parsed.entry.payload = std::make_shared<const std::vector<uint8_t>>(std::move(payload));
  return true;
}

// Parses the entry at `pos`; on failure returns nullopt and says why.
std::optional<ParsedEntry> parse_entry(std::span<const uint8_t> bytes, std::size_t pos,
                                       const EntryMap* known, std::string* why) {
  const uint8_t* h = bytes.data() + pos;
  const auto head = parse_head(h, bytes.size() - pos, why);
  if (!head) return std::nullopt;
  ParsedEntry parsed;
  if (!parse_identity(h, *head, known, parsed, why)) return std::nullopt;
  if (!parsed.entry.payload) {
    const uint8_t* payload = h + kEntryHeaderSize + head->strings_len;
    if (!take_payload(std::vector<uint8_t>(payload, payload + head->payload_len), parsed, why)) {
      return std::nullopt;
    }
  }
  return parsed;
}

// The entry count of a valid trailer that ends the file exactly at `pos`.
std::optional<uint64_t> parse_trailer(std::span<const uint8_t> bytes, std::size_t pos) {
  if (bytes.size() - pos != kTrailerSize) return std::nullopt;
  const uint8_t* t = bytes.data() + pos;
  if (std::memcmp(t, kTrailerMagic, 8) != 0) return std::nullopt;
  if (XXH64(t, 16, 0) != get_le(t + 16, 8)) return std::nullopt;
  return get_le(t + 8, 8);
}

void add_problem(Decoded& decoded, std::string text) {
  if (decoded.problems.size() < kMaxProblems) decoded.problems.push_back(std::move(text));
}

void insert_newer(EntryMap& into, CacheKey key, Entry entry) {
  auto [it, inserted] = into.try_emplace(std::move(key), entry);
  if (inserted) return;
  const uint64_t last_used = std::max(it->second.last_used_ns, entry.last_used_ns);
  if (replaces(entry, it->second)) it->second = std::move(entry);
  it->second.last_used_ns = last_used;
}

}  // namespace

std::string identity_problem(const CacheKey& key) {
  if (key.plugin_id.empty()) return "empty plugin id";
  if (key.plugin_id.size() > kMaxPluginIdBytes) return "plugin id longer than 255 bytes";
  for (unsigned char c : key.plugin_id) {
    if (c <= 0x20 || c >= 0x7f) return "plugin id holds a space or a non-printable byte";
  }
  if (key.device_fingerprint.size() > kMaxFingerprintBytes) {
    return "device fingerprint longer than 4096 bytes";
  }
  if (key.device_fingerprint.find('\0') != std::string::npos) {
    return "device fingerprint holds a NUL byte";
  }
  if (key.key.size() > kMaxKeyBytes) return "key longer than 65536 bytes";
  if (key.key.find('\0') != std::string::npos) return "key holds a NUL byte";
  return {};
}

uint64_t hash_payload(const void* data, std::size_t size) { return XXH64(data, size, 0); }

uint64_t encoded_size(const CacheKey& key, const Entry& entry) {
  return kEntryHeaderSize + key.plugin_id.size() + key.device_fingerprint.size() + key.key.size() +
         entry.payload->size();
}

bool replaces(const Entry& incoming, const Entry& current) {
  if (incoming.written_ns != current.written_ns) return incoming.written_ns > current.written_ns;
  return incoming.payload_hash > current.payload_hash;
}

void merge_into(EntryMap& into, const EntryMap& from) {
  for (const auto& [key, entry] : from) insert_newer(into, key, entry);
}

EntryMap evict_to_fit(EntryMap& entries, uint64_t max_bytes) {
  uint64_t total = kHeaderSize + kTrailerSize;
  for (const auto& [key, entry] : entries) total += encoded_size(key, entry);
  EntryMap evicted;
  if (total <= max_bytes) return evicted;
  std::vector<EntryMap::iterator> by_age;
  by_age.reserve(entries.size());
  for (auto it = entries.begin(); it != entries.end(); ++it) by_age.push_back(it);
  std::sort(by_age.begin(), by_age.end(), [](const auto& a, const auto& b) {
    return a->second.last_used_ns < b->second.last_used_ns;
  });
  for (auto it : by_age) {
    if (total <= max_bytes) break;
    total -= encoded_size(it->first, it->second);
    evicted.insert(entries.extract(it));
  }
  return evicted;
}

Image encode_image(const EntryMap& entries) {
  std::size_t meta_size = kHeaderSize + kTrailerSize;
  for (const auto& [key, entry] : entries) {
    meta_size +=
        kEntryHeaderSize + key.plugin_id.size() + key.device_fingerprint.size() + key.key.size();
  }
  Image image;
  image.meta.resize(meta_size);
  // Pieces are recorded as offsets first: `meta` is filled through a cursor
  // and only then turned into spans.
  struct Piece {
    const uint8_t* payload;  // null: meta[offset, offset + size)
    std::size_t offset, size;
  };
  std::vector<Piece> pieces;
  pieces.reserve(2 * entries.size() + 2);
  uint8_t* const base = image.meta.data();
  uint8_t* p = base;
  std::size_t meta_start = 0;
  auto bytes = [&p](const void* data, std::size_t size) {
    if (size) std::memcpy(p, data, size);
    p += size;
  };
  auto le = [&p](uint64_t value, int width) {
    store_le(p, value, width);
    p += width;
  };
  auto end_meta_piece = [&] {
    const auto offset = static_cast<std::size_t>(p - base);
    if (offset > meta_start) pieces.push_back({nullptr, meta_start, offset - meta_start});
    meta_start = offset;
  };
  bytes(kFileMagic, 8);
  le(kFormatVersion, 4);
  le(0, 4);
  for (const auto& [key, entry] : entries) {
    uint8_t* start = p;
    bytes(kEntryMagic, 4);
    le(key.plugin_id.size(), 2);
    le(key.device_fingerprint.size(), 2);
    le(key.key.size(), 4);
    le(0, 4);
    le(entry.payload->size(), 8);
    le(entry.written_ns, 8);
    le(entry.last_used_ns, 8);
    le(entry.payload_hash, 8);
    uint8_t* checksum = p;
    p += 8;  // filled in once the strings it covers are written
    for (const std::string* s : {&key.plugin_id, &key.device_fingerprint, &key.key}) {
      bytes(s->data(), s->size());
    }
    const std::size_t strings_len = static_cast<std::size_t>(p - start) - kEntryHeaderSize;
    store_le(checksum, header_hash(start, start + kEntryHeaderSize, strings_len), 8);
    if (!entry.payload->empty()) {
      end_meta_piece();
      pieces.push_back({entry.payload->data(), 0, entry.payload->size()});
    }
  }
  uint8_t* trailer = p;
  bytes(kTrailerMagic, 8);
  le(entries.size(), 8);
  le(XXH64(trailer, 16, 0), 8);
  end_meta_piece();

  for (const Piece& piece : pieces) {
    const uint8_t* data = piece.payload ? piece.payload : base + piece.offset;
    image.pieces.emplace_back(data, piece.size);
    image.size += piece.size;
  }
  return image;
}

std::vector<uint8_t> encode(const EntryMap& entries) {
  const Image image = encode_image(entries);
  std::vector<uint8_t> out(image.size);
  std::size_t offset = 0;
  for (const auto& piece : image.pieces) {
    std::memcpy(out.data() + offset, piece.data(), piece.size());
    offset += piece.size();
  }
  return out;
}

std::string header_problem(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return "file shorter than the 16-byte header";
  if (std::memcmp(bytes.data(), kFileMagic, 8) != 0) return "not an rtscope cache file (bad magic)";
  const uint64_t version = get_le(bytes.data() + 8, 4);
  if (version != kFormatVersion) {
    return "format version " + std::to_string(version) + ", this build reads version " +
           std::to_string(kFormatVersion);
  }
  if (get_le(bytes.data() + 12, 4) != 0) return "reserved header field is not zero";
  return {};
}

Decoded decode(std::span<const uint8_t> bytes, const EntryMap* known) {
  Decoded decoded;
  decoded.magic_ok = bytes.size() >= 8 && std::memcmp(bytes.data(), kFileMagic, 8) == 0;
  if (decoded.magic_ok && bytes.size() >= 12) {
    decoded.version = static_cast<uint32_t>(get_le(bytes.data() + 8, 4));
  }
  if (std::string problem = header_problem(bytes); !problem.empty()) {
    add_problem(decoded, std::move(problem));
    return decoded;
  }
  decoded.header_ok = true;

  std::size_t pos = kHeaderSize;
  uint64_t accepted = 0;
  uint64_t bad_spots = 0;
  std::optional<uint64_t> trailer_count;
  std::string why;
  while (pos < bytes.size()) {
    if ((trailer_count = parse_trailer(bytes, pos))) break;
    if (auto parsed = parse_entry(bytes, pos, known, &why)) {
      pos += parsed->size;
      ++accepted;
      insert_newer(decoded.entries, std::move(parsed->key), std::move(parsed->entry));
      continue;
    }
    ++bad_spots;
    add_problem(decoded, "offset " + std::to_string(pos) + ": " + why);
    // A corrupt length cannot be trusted to find the next entry: look for the
    // next spot where a whole entry (or the trailer) validates.
    std::size_t next = bytes.size();
    for (std::size_t q = pos + 1; q + 4 <= bytes.size(); ++q) {
      const bool entry_magic = std::memcmp(bytes.data() + q, kEntryMagic, 4) == 0;
      if (entry_magic && parse_entry(bytes, q, nullptr, &why)) {
        next = q;
        break;
      }
      if (!entry_magic && bytes[q] == 'R' && parse_trailer(bytes, q)) {
        next = q;
        break;
      }
    }
    pos = next;
  }
  if (!trailer_count) {
    add_problem(decoded, "file ends without a trailer (truncated)");
    decoded.rejected = std::max<uint64_t>(bad_spots, 1);
  } else {
    const uint64_t missing = *trailer_count > accepted ? *trailer_count - accepted : 0;
    if (missing > 0 && bad_spots == 0) {
      add_problem(decoded, "trailer counts " + std::to_string(*trailer_count) + " entries, found " +
                               std::to_string(accepted));
    }
    decoded.rejected = std::max(bad_spots, missing);
  }
  return decoded;
}

std::optional<Decoded> decode_by_reads(uint64_t size, const ReadAt& read_at,
                                       const EntryMap* known) {
  if (size < kHeaderSize + kTrailerSize) return std::nullopt;
  std::vector<uint8_t> buffer(4096);
  if (!read_at(0, buffer.data(), kHeaderSize)) return std::nullopt;
  if (!header_problem(std::span(buffer.data(), kHeaderSize)).empty()) return std::nullopt;
  Decoded decoded;
  decoded.magic_ok = decoded.header_ok = true;
  decoded.version = kFormatVersion;
  uint64_t pos = kHeaderSize;
  uint64_t accepted = 0;
  std::string why;
  while (size - pos != kTrailerSize) {
    // The header and, usually, the strings in one read.
    const std::size_t first = static_cast<std::size_t>(std::min<uint64_t>(size - pos, 4096));
    if (first < kEntryHeaderSize || !read_at(pos, buffer.data(), first)) return std::nullopt;
    const auto head = parse_head(buffer.data(), size - pos, &why);
    if (!head) return std::nullopt;
    if (kEntryHeaderSize + head->strings_len > first) {
      buffer.resize(kEntryHeaderSize + head->strings_len);
      if (!read_at(pos, buffer.data(), buffer.size())) return std::nullopt;
    }
    ParsedEntry parsed;
    if (!parse_identity(buffer.data(), *head, known, parsed, &why)) return std::nullopt;
    if (!parsed.entry.payload) {
      std::vector<uint8_t> payload(head->payload_len);
      if (!read_at(pos + kEntryHeaderSize + head->strings_len, payload.data(), payload.size()) ||
          !take_payload(std::move(payload), parsed, &why)) {
        return std::nullopt;
      }
    }
    pos += parsed.size;
    ++accepted;
    insert_newer(decoded.entries, std::move(parsed.key), std::move(parsed.entry));
  }
  if (!read_at(pos, buffer.data(), kTrailerSize)) return std::nullopt;
  const auto count = parse_trailer(std::span(buffer.data(), kTrailerSize), 0);
  if (!count || *count != accepted) return std::nullopt;
  return decoded;
}

}  // namespace rtscope::cache_format
