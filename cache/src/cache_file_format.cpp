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
// Failed candidate checks while resynchronizing may hash this many bytes
// per byte of input, plus the floor: a crafted file cannot make a decode
// more than linear.
constexpr uint64_t kResyncWorkPerByte = 2;
constexpr uint64_t kResyncWorkFloor = 64 << 10;

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

// The fixed fields of an entry header.
struct EntryHead {
  std::size_t strings_len = 0;
  uint64_t payload_len = 0;
  uint64_t size() const { return kEntryHeaderSize + strings_len + payload_len; }
};

// Checks the 56-byte entry header at `h`, `remaining` bytes before the end of
// the input: magic, bounds, and that the entry fits. Costs O(1).
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

// A decode in progress: the input and the bytes of work spent on it.
struct Reader {
  std::span<const uint8_t> bytes;
  uint64_t work = 0;

  // The header at `pos` when its fields are in range and its checksum
  // (over the header and the strings) matches. Once it does, its lengths
  // are the writer's, so a failure later in the entry can skip the entry
  // whole. Costs the header and strings.
  std::optional<EntryHead> checked_head(std::size_t pos, std::string* why) {
    const uint8_t* h = bytes.data() + pos;
    auto head = parse_head(h, bytes.size() - pos, why);
    if (!head) return std::nullopt;
    work += kEntryHeaderSize + head->strings_len;
    if (header_hash(h, h + kEntryHeaderSize, head->strings_len) != get_le(h + 48, 8)) {
      *why = "entry header checksum mismatch";
      return std::nullopt;
    }
    return head;
  }

  // Scans forward from `from` for the next spot where an entry header
  // validates or the trailer ends the input; bytes.size() when there is
  // none or when checking candidates has spent `budget` bytes. Candidates
  // are checked by header only, so a scan costs at most the bytes passed
  // plus the budget.
  std::size_t resync(std::size_t from, uint64_t& budget, bool* gave_up) {
    const std::size_t size = bytes.size();
    const std::size_t trailer_at = size >= kTrailerSize ? size - kTrailerSize : size;
    std::string ignored;
    for (std::size_t q = from; q + 4 <= size;) {
      const void* found = std::memchr(bytes.data() + q, 'R', size - q);
      if (!found) break;
      const std::size_t r =
          static_cast<std::size_t>(static_cast<const uint8_t*>(found) - bytes.data());
      work += r - q + 1;
      q = r;
      if (q == trailer_at && parse_trailer(q)) return q;
      if (q + 4 <= size && std::memcmp(bytes.data() + q, kEntryMagic, 4) == 0) {
        const uint64_t before = work;
        const bool valid = checked_head(q, &ignored).has_value();
        const uint64_t spent = work - before;
        if (valid) return q;
        if (spent >= budget) {
          *gave_up = true;
          return size;
        }
        budget -= spent;
      }
      ++q;
    }
    return size;
  }

  // The entry count of a valid trailer that ends the input exactly at `pos`.
  std::optional<uint64_t> parse_trailer(std::size_t pos) const {
    if (bytes.size() - pos != kTrailerSize) return std::nullopt;
    const uint8_t* t = bytes.data() + pos;
    if (std::memcmp(t, kTrailerMagic, 8) != 0) return std::nullopt;
    if (XXH64(t, 16, 0) != get_le(t + 16, 8)) return std::nullopt;
    return get_le(t + 8, 8);
  }
};

// The key of an entry whose header validated.
CacheKey read_key(const uint8_t* h, const EntryHead& head) {
  const std::size_t plugin_len = get_le(h + 4, 2);
  const std::size_t fingerprint_len = get_le(h + 6, 2);
  const auto* chars = reinterpret_cast<const char*>(h + kEntryHeaderSize);
  CacheKey key;
  key.plugin_id.assign(chars, plugin_len);
  key.device_fingerprint.assign(chars + plugin_len, fingerprint_len);
  key.key.assign(chars + plugin_len + fingerprint_len,
                 head.strings_len - plugin_len - fingerprint_len);
  return key;
}

// Text from a file, bounded and with bytes that could garble a terminal
// replaced, for a problem report.
std::string shown(const std::string& text) {
  std::string out;
  for (unsigned char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
  if (text.size() > 64) out += "...";
  return out;
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

std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
  if (text.size() > 64) out += "...";
  return out;
}

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

  Reader reader{bytes};
  // What failed candidate checks may cost in all: linear in the input.
  uint64_t resync_budget = kResyncWorkPerByte * bytes.size() + kResyncWorkFloor;
  std::size_t pos = kHeaderSize;
  uint64_t accepted = 0;
  uint64_t bad_spots = 0;
  uint64_t duplicates = 0;
  std::optional<uint64_t> trailer_count;
  std::string why;
  while (pos < bytes.size()) {
    if ((trailer_count = reader.parse_trailer(pos))) break;
    const uint8_t* h = bytes.data() + pos;
    if (const auto head = reader.checked_head(pos, &why)) {
      // The lengths are the writer's: whatever is wrong inside this entry,
      // the next one starts right after it.
      const std::size_t entry_pos = pos;
      pos += head->size();
      CacheKey key = read_key(h, *head);
      // Checksums prove the bytes are what the writer wrote, not that the
      // writer was well-formed: the identity is checked like a put().
      if (std::string problem = identity_problem(key); !problem.empty()) {
        ++bad_spots;
        add_problem(decoded, "offset " + std::to_string(entry_pos) +
                                 ": malformed producer identity: " + problem);
        continue;
      }
      Entry entry;
      entry.payload_hash = get_le(h + 40, 8);
      entry.written_ns = get_le(h + 24, 8);
      entry.last_used_ns = get_le(h + 32, 8);
      const uint8_t* payload = h + kEntryHeaderSize + head->strings_len;
      reader.work += head->payload_len;
      // Every payload is checked, with or without `known`, so both decodes
      // accept exactly the same entries.
      if (hash_payload(payload, head->payload_len) != entry.payload_hash) {
        ++bad_spots;
        add_problem(decoded,
                    "offset " + std::to_string(entry_pos) + ": entry payload checksum mismatch");
        continue;
      }
      if (known) {
        auto it = known->find(key);
        if (it != known->end() && it->second.written_ns == entry.written_ns &&
            it->second.payload_hash == entry.payload_hash &&
            it->second.payload->size() == head->payload_len) {
          entry.payload = it->second.payload;  // shared, not copied
        }
      }
      if (!entry.payload) {
        entry.payload =
            std::make_shared<const std::vector<uint8_t>>(payload, payload + head->payload_len);
      }
      ++accepted;
      // A writer never writes a key twice.
      if (decoded.entries.count(key)) {
        ++duplicates;
        add_problem(decoded, "offset " + std::to_string(entry_pos) + ": duplicate entry for key '" +
                                 shown(key.key) + "' of plugin '" + shown(key.plugin_id) + "'");
      }
      insert_newer(decoded.entries, std::move(key), std::move(entry));
      continue;
    }
    ++bad_spots;
    add_problem(decoded, "offset " + std::to_string(pos) + ": " + why);
    // A corrupt header's lengths cannot be trusted to find the next entry:
    // look for the next spot where an entry header (or the trailer)
    // validates.
    bool gave_up = false;
    pos = reader.resync(pos + 1, resync_budget, &gave_up);
    if (gave_up) {
      add_problem(decoded, "gave up looking for valid entries after offset " + std::to_string(pos) +
                               " (too much damage)");
    }
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
  decoded.rejected += duplicates;
  decoded.work_bytes = reader.work;
  return decoded;
}

}  // namespace rtscope::cache_format
