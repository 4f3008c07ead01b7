// The decoder on crafted files: its work stays linear in the file size, it
// rejects duplicated entries, and decoding with entries the caller already
// holds gives exactly what a plain decode gives.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>
#include <sstream>

#include "../../cache/src/cache_file_format.hpp"
#include "cache/cache_test_support.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/run_merged.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

namespace raw = testing::raw;
namespace fmt = cache_format;
using testing::bytes_of;

// An entry header (with its strings) claiming `payload_len` bytes of payload
// with checksum `payload_hash`; its own checksum is valid.
std::vector<uint8_t> entry_head(const std::string& plugin, const std::string& fingerprint,
                                const std::string& key, uint64_t payload_len,
                                uint64_t payload_hash) {
  std::vector<uint8_t> out = {'R', 'T', 'S', 'E'};
  raw::le(out, plugin.size(), 2);
  raw::le(out, fingerprint.size(), 2);
  raw::le(out, key.size(), 4);
  raw::le(out, 0, 4);
  raw::le(out, payload_len, 8);
  raw::le(out, 1000, 8);
  raw::le(out, 1000, 8);
  raw::le(out, payload_hash, 8);
  const std::string strings = plugin + fingerprint + key;
  raw::le(out, XXH64(strings.data(), strings.size(), XXH64(out.data(), 48, 0)), 8);
  out.insert(out.end(), strings.begin(), strings.end());
  return out;
}

void append(std::vector<uint8_t>& out, const std::vector<uint8_t>& more) {
  out.insert(out.end(), more.begin(), more.end());
}

// The bound every decode must keep: a few passes over the input.
uint64_t linear_bound(std::size_t size) { return 4 * uint64_t{size} + (64 << 10); }

// A file of nothing but bad entries: decoding it keeps none, rejects at
// least one, and stays within linear_bound of its size.
void expect_rejected_in_linear_work(const std::vector<uint8_t>& bytes) {
  const fmt::Decoded decoded = fmt::decode(bytes);
  EXPECT_TRUE(decoded.entries.empty());
  EXPECT_GE(decoded.rejected, 1u);
  EXPECT_LE(decoded.work_bytes, linear_bound(bytes.size()))
      << "work " << decoded.work_bytes << " on " << bytes.size() << " bytes";
}

TEST(CacheDecodeBounds, NestedEntriesWithBadPayloadsCostLinearWork) {
  // Every entry's payload runs to the trailer and fails its checksum, so the
  // next entry header sits inside the previous payload. A decoder that
  // resynchronizes byte by byte after each failure and checks each candidate
  // whole hashes the rest of the file once per entry: quadratic.
  constexpr int kEntries = 3000;
  constexpr std::size_t kHeadSize = 56 + 3 + 2 + 6;
  const std::size_t body = kEntries * kHeadSize;
  std::vector<uint8_t> bytes = raw::header();
  for (int i = 0; i < kEntries; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%05d", i);
    const std::size_t after = body - (i + 1) * kHeadSize;
    append(bytes, entry_head("cpu", "fp", key, after, /*wrong checksum=*/12345));
  }
  append(bytes, raw::trailer(kEntries));
  expect_rejected_in_linear_work(bytes);
}

TEST(CacheDecodeBounds, EntryMagicEverywhereCostsLinearWork) {
  // Back-to-back candidate headers, each claiming the longest strings and
  // none with a valid checksum: checking one costs ~70 KB of hashing.
  std::vector<uint8_t> bytes = raw::header();
  std::vector<uint8_t> bogus = {'R', 'T', 'S', 'E'};
  raw::le(bogus, 255, 2);
  raw::le(bogus, 4096, 2);
  raw::le(bogus, 65536, 4);
  bogus.resize(56, 0);  // reserved, payload length 0, times and checksums 0
  while (bytes.size() < (1 << 20)) append(bytes, bogus);
  append(bytes, std::vector<uint8_t>(70000, 0));
  append(bytes, raw::trailer(1));
  expect_rejected_in_linear_work(bytes);
}

TEST(CacheDecodeBounds, IntactFileIsOnePass) {
  std::vector<std::vector<uint8_t>> entries;
  for (int i = 0; i < 100; ++i) {
    entries.push_back(raw::entry("cpu", "fp", "k" + std::to_string(i), std::vector<uint8_t>(1000)));
  }
  const auto bytes = raw::file(entries);
  const fmt::Decoded decoded = fmt::decode(bytes);
  EXPECT_EQ(decoded.entries.size(), 100u);
  EXPECT_EQ(decoded.rejected, 0u);
  EXPECT_LE(decoded.work_bytes, 2 * bytes.size());
}

std::vector<uint8_t> file_with_duplicate() {
  return raw::file({raw::entry("cpu", "fp", "a", bytes_of("first"), 1000, 1000),
                    raw::entry("cpu", "fp", "b", bytes_of("other")),
                    raw::entry("cpu", "fp", "a", bytes_of("second"), 2000, 2000)});
}

TEST(CacheDecodeBounds, DuplicatedEntriesAreRejected) {
  const fmt::Decoded decoded = fmt::decode(file_with_duplicate());
  EXPECT_EQ(decoded.rejected, 1u);
  ASSERT_FALSE(decoded.problems.empty());
  EXPECT_NE(testing::join(decoded.problems).find("duplicate"), std::string::npos)
      << testing::join(decoded.problems);
  // The newer write of the key is the one kept.
  ASSERT_EQ(decoded.entries.size(), 2u);
  EXPECT_EQ(*decoded.entries.at({"cpu", "fp", "a"}).payload, bytes_of("second"));

  testing::Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  std::stringstream stream;
  const auto bytes = file_with_duplicate();
  stream.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  cache.load_from_stream(stream);
  EXPECT_EQ(cache.get({"cpu", "fp", "a"}), bytes_of("second"));
  EXPECT_EQ(cache.counters().rejected, 1u);
  EXPECT_TRUE(warnings.any_contains("duplicate"));
}

TEST(CacheDecodeBounds, VerifyToolRejectsDuplicatedEntries) {
  testing::TempDir dir;
  const auto path = dir / "dup.cache";
  testing::write_file(path, file_with_duplicate());
  const auto [exit_code, output] =
      testing::run_merged(std::string(RTSCOPE_CACHE_TOOL) + " verify '" + path.string() + "'");
  EXPECT_EQ(exit_code, 1) << output;
  EXPECT_NE(output.find("duplicate"), std::string::npos) << output;
}

// Everything a decode found, as comparable values.
struct Summary {
  std::map<CacheKey, std::tuple<uint64_t, uint64_t, std::vector<uint8_t>>> entries;
  uint64_t rejected = 0;
  bool operator==(const Summary&) const = default;
};

Summary summarize(const fmt::Decoded& decoded) {
  Summary s;
  for (const auto& [key, e] : decoded.entries) {
    s.entries[key] = {e.written_ns, e.payload_hash, *e.payload};
  }
  s.rejected = decoded.rejected;
  return s;
}

std::string describe(const Summary& s) {
  std::string out = "rejected " + std::to_string(s.rejected) + ", entries:";
  for (const auto& [key, e] : s.entries) out += " " + key.key;
  return out;
}

TEST(CacheDecodeBounds, DecodingWithKnownEntriesAgreesWithAPlainDecode) {
  // An intact file; one entry's payload is itself a cache file image, whose
  // entries look valid wherever a decoder resynchronizes inside it.
  const auto inner = raw::file({raw::entry("cpu", "fp", "inner", bytes_of("nested payload"))});
  const auto intact = raw::file({raw::entry("cpu", "fp", "a", bytes_of("alpha payload")),
                                 raw::entry("cpu", "fp", "image", inner),
                                 raw::entry("gpu", "sm90", "c", std::vector<uint8_t>(300, 7))});
  const fmt::Decoded original = fmt::decode(intact);
  ASSERT_EQ(original.entries.size(), 3u);
  ASSERT_EQ(original.rejected, 0u);

  std::vector<std::vector<uint8_t>> cases;
  // Every single-bit flip of the first bit of each byte, and of the last.
  for (std::size_t i = 0; i < intact.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      auto bytes = intact;
      bytes[i] ^= bit;
      cases.push_back(std::move(bytes));
    }
  }
  // Every truncation.
  for (std::size_t length = 0; length < intact.size(); ++length) {
    cases.emplace_back(intact.begin(), intact.begin() + length);
  }
  cases.push_back(file_with_duplicate());
  int disagreements = 0;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Summary plain = summarize(fmt::decode(cases[c]));
    const Summary known = summarize(fmt::decode(cases[c], &original.entries));
    if (!(plain == known) && ++disagreements <= 5) {
      ADD_FAILURE() << "case " << c << ": plain " << describe(plain) << "; known "
                    << describe(known);
    }
  }
  EXPECT_EQ(disagreements, 0);
}

}  // namespace
}  // namespace rtscope
