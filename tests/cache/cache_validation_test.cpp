// Bad bytes in a cache file: nothing invalid ever comes out of get(); every
// fault is counted and warned about; nothing crashes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "cache/cache_test_support.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using testing::bytes_of;
using ::testing::Field;
using testing::TempDir;
using testing::Warnings;
namespace raw = testing::raw;

struct Sample {
  CacheKey key;
  std::vector<uint8_t> value;
};

// A small valid file of three entries, written by the library.
std::vector<Sample> samples() {
  return {{{"cpu", "x86", "a"}, bytes_of("alpha payload")},
          {{"cpu", "x86", "b"}, std::vector<uint8_t>(40, 0xab)},
          {{"gpu", "sm90|550.54", "c"}, bytes_of("gamma")}};
}

std::vector<uint8_t> sample_file() {
  RuntimeCache cache;
  for (const auto& s : samples()) testing::put(cache, s.key, s.value);
  std::stringstream stream;
  cache.save_to_stream(stream);
  const std::string text = stream.str();
  return std::vector<uint8_t>(text.begin(), text.end());
}

struct LoadResult {
  int hits = 0;   // sample entries served with their exact bytes
  int wrong = 0;  // sample entries served with other bytes (must stay 0)
  uint64_t rejected = 0;
  std::size_t warnings = 0;
};

// Loads `bytes` into a fresh cache and asks for every sample entry.
LoadResult load_bytes(const std::vector<uint8_t>& bytes) {
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  std::stringstream stream;
  stream.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  cache.load_from_stream(stream);
  LoadResult result;
  for (const auto& s : samples()) {
    if (auto got = cache.get(s.key)) (*got == s.value ? result.hits : result.wrong)++;
  }
  result.rejected = cache.counters().rejected;
  result.warnings = warnings.count();
  return result;
}

LoadResult load_raw(const std::vector<std::vector<uint8_t>>& entries) {
  return load_bytes(raw::file(entries));
}

// Loads `entry` between two valid ones (cpu "a" and gpu "c"): a bad entry
// must cost only itself.
LoadResult load_between_valid_entries(const std::vector<uint8_t>& entry) {
  return load_raw({raw::entry("cpu", "x86", "a", bytes_of("alpha payload")), entry,
                   raw::entry("gpu", "sm90|550.54", "c", bytes_of("gamma"))});
}

// A bad entry between two good ones costs only itself: both good ones are
// served with their exact bytes, the bad one is rejected with one warning.
void expect_only_the_bad_entry_lost(const LoadResult& r) {
  EXPECT_EQ(r.hits, 2);
  EXPECT_EQ(r.wrong, 0);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(r.warnings, 1u);
}

TEST(CacheValidation, LibraryWritesTheDocumentedLayout) {
  std::vector<std::vector<uint8_t>> entries;
  for (const auto& s : samples()) {
    // The library stamps its own times; compare everything but those.
    entries.push_back(raw::entry(s.key.plugin_id, s.key.device_fingerprint, s.key.key, s.value));
  }
  const LoadResult hand_written = load_raw(entries);
  EXPECT_EQ(hand_written.hits, 3);
  EXPECT_EQ(hand_written.rejected, 0u);
  EXPECT_EQ(hand_written.warnings, 0u);
  EXPECT_EQ(sample_file().size(), raw::file(entries).size());
}

TEST(CacheValidation, IntactFileLoadsCompletely) {
  const LoadResult r = load_bytes(sample_file());
  EXPECT_EQ(r.hits, 3);
  EXPECT_EQ(r.rejected, 0u);
  EXPECT_EQ(r.warnings, 0u);
}

TEST(CacheValidation, TruncationAtEveryLength) {
  const auto full = sample_file();
  // Length 0 is an empty stream, which is an empty cache without a warning
  // (CacheWarnings.EmptyStreamIsAnEmptyCacheWithoutWarning).
  for (std::size_t length = 1; length < full.size(); ++length) {
    SCOPED_TRACE("length " + std::to_string(length));
    const LoadResult r = load_bytes(std::vector<uint8_t>(full.begin(), full.begin() + length));
    EXPECT_EQ(r.wrong, 0);
    EXPECT_GE(r.rejected, 1u);
    EXPECT_GE(r.warnings, 1u);
  }
}

TEST(CacheValidation, RandomBitFlipsAreAllCaught) {
  const auto full = sample_file();
  std::mt19937 random(12345);
  for (int trial = 0; trial < 2000; ++trial) {
    auto bytes = full;
    const int flips = 1 + trial % 3;
    for (int f = 0; f < flips; ++f) {
      bytes[random() % bytes.size()] ^= static_cast<uint8_t>(1u << (random() % 8));
    }
    if (bytes == full) continue;  // two flips cancelled out
    SCOPED_TRACE("trial " + std::to_string(trial));
    const LoadResult r = load_bytes(bytes);
    EXPECT_EQ(r.wrong, 0);
    EXPECT_GE(r.rejected, 1u);
    EXPECT_GE(r.warnings, 1u);
  }
}

TEST(CacheValidation, RandomGarbageIsIgnored) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> bytes(random() % 2000);
    for (auto& b : bytes) b = static_cast<uint8_t>(random());
    if (trial % 2)
      std::copy_n("RTSCACHE\1\0\0\0\0\0\0\0", std::min<size_t>(16, bytes.size()), bytes.begin());
    const LoadResult r = load_bytes(bytes);
    EXPECT_EQ(r.hits + r.wrong, 0);
    EXPECT_GE(r.rejected, 1u);
    EXPECT_GE(r.warnings, 1u);
  }
}

TEST(CacheValidation, WrongMagicIgnoresTheWholeFileWithOneWarning) {
  auto bytes = raw::header(1, "NOTCACHE");
  const auto body = raw::file({raw::entry("cpu", "x86", "a", bytes_of("alpha payload"))});
  bytes.insert(bytes.end(), body.begin() + 16, body.end());
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  std::stringstream stream;
  stream.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  EXPECT_EQ(cache.load_from_stream(stream), 0u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.get({"cpu", "x86", "a"}));
  EXPECT_EQ(cache.counters().rejected, 1u);
  ASSERT_EQ(warnings.count(), 1u);
  EXPECT_TRUE(warnings.any_contains("bad magic"));
}

TEST(CacheValidation, WrongVersionIgnoresTheWholeFileWithOneWarning) {
  TempDir dir;
  auto bytes = raw::file({raw::entry("cpu", "x86", "a", bytes_of("alpha payload"))});
  bytes[8] = 2;  // format version 2
  testing::write_file(dir / "v2.cache", bytes);
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  EXPECT_EQ(cache.load(dir / "v2.cache"), 0u);
  EXPECT_FALSE(cache.get({"cpu", "x86", "a"}));
  EXPECT_EQ(cache.counters().rejected, 1u);
  ASSERT_EQ(warnings.count(), 1u);
  EXPECT_TRUE(warnings.any_contains("format version 2"));
  EXPECT_TRUE(warnings.any_contains("v2.cache"));
}

TEST(CacheValidation, EntryWithFailingChecksumIsSkippedAndCounted) {
  auto bad = raw::entry("cpu", "x86", "b", std::vector<uint8_t>(40, 0xab));
  bad[bad.size() - 5] ^= 0x10;  // payload byte
  expect_only_the_bad_entry_lost(load_between_valid_entries(bad));
}

TEST(CacheValidation, CorruptLengthResynchronizesOnTheNextEntry) {
  auto bad = raw::entry("cpu", "x86", "b", std::vector<uint8_t>(40, 0xab));
  bad[16] = 0xff;  // payload length 255 instead of 40
  const LoadResult r = load_between_valid_entries(bad);
  EXPECT_EQ(r.hits, 2);
  EXPECT_EQ(r.rejected, 1u);
}

TEST(CacheValidation, MissingWholeEntryIsCountedFromTheTrailer) {
  auto bytes = raw::header();
  for (const auto& e : {raw::entry("cpu", "x86", "a", bytes_of("alpha payload")),
                        raw::entry("gpu", "sm90|550.54", "c", bytes_of("gamma"))}) {
    bytes.insert(bytes.end(), e.begin(), e.end());
  }
  const auto t = raw::trailer(3);  // the writer wrote three
  bytes.insert(bytes.end(), t.begin(), t.end());
  expect_only_the_bad_entry_lost(load_bytes(bytes));
}

TEST(CacheValidation, ForeignFingerprintIsAMiss) {
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  std::stringstream stream;
  const auto image = raw::file({raw::entry("gpu", "sm80|535.00", "kernel", bytes_of("sm80 code"))});
  stream.write(reinterpret_cast<const char*>(image.data()), image.size());
  cache.load_from_stream(stream);
  EXPECT_FALSE(cache.get({"gpu", "sm90|550.54", "kernel"}));
  EXPECT_EQ(cache.get({"gpu", "sm80|535.00", "kernel"}), bytes_of("sm80 code"));
  EXPECT_THAT(cache.counters(),
              AllOf(Field(&CacheCounters::misses, 1u), Field(&CacheCounters::hits, 1u),
                    Field(&CacheCounters::rejected, 0u)));
  EXPECT_EQ(warnings.count(), 0u);
}

TEST(CacheValidation, MalformedProducerIdentityIsRejected) {
  // Checksums are valid: only the identity fields are wrong.
  const std::vector<std::vector<uint8_t>> malformed = {
      raw::entry("", "x86", "k", bytes_of("empty plugin id")),
      raw::entry("c\x01u", "x86", "k", bytes_of("control byte in plugin id")),
      raw::entry("my plugin", "x86", "k", bytes_of("space in plugin id")),
      raw::entry("cpu", std::string("x8\0 6", 5), "k", bytes_of("NUL in fingerprint")),
      raw::entry("cpu", "x86", std::string("k\0k", 3), bytes_of("NUL in key")),
      raw::entry(std::string(300, 'p'), "x86", "k", bytes_of("plugin id over 255 bytes")),
      raw::entry("cpu", std::string(5000, 'f'), "k", bytes_of("fingerprint over 4096 bytes")),
  };
  for (std::size_t i = 0; i < malformed.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    expect_only_the_bad_entry_lost(load_between_valid_entries(malformed[i]));
  }
}

TEST(CacheValidation, PutWithMalformedIdentityIsRejected) {
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  testing::put(cache, {"", "fp", "k"}, bytes_of("x"));
  testing::put(cache, {"cpu", "fp", std::string(70000, 'k')}, bytes_of("x"));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.counters().rejected, 2u);
  EXPECT_EQ(warnings.count(), 2u);
}

TEST(CacheValidation, SaveDropsInvalidEntriesFoundOnDisk) {
  TempDir dir;
  const auto path = dir / "heal.cache";
  auto bad = raw::entry("cpu", "x86", "b", bytes_of("bad"));
  bad.back() ^= 1;
  testing::write_file(path, raw::file({raw::entry("cpu", "x86", "a", bytes_of("good")), bad}));
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  testing::put(cache, {"cpu", "x86", "c"}, bytes_of("mine"));
  cache.save(path);
  EXPECT_EQ(cache.counters().rejected, 1u);
  EXPECT_EQ(warnings.count(), 1u);

  Warnings reader_warnings;
  RuntimeCache reader(testing::options_with(reader_warnings));
  reader.load(path);
  EXPECT_EQ(reader.size(), 2u);
  EXPECT_EQ(reader.counters().rejected, 0u);
  EXPECT_EQ(reader_warnings.count(), 0u);
}

TEST(CacheValidation, SaveNeverOverwritesAForeignFileOrAnotherVersion) {
  TempDir dir;
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  testing::put(cache, {"cpu", "x86", "a"}, bytes_of("mine"));

  const auto foreign = dir / "notes.txt";
  testing::write_file(foreign, bytes_of("someone else's file, not a cache"));
  EXPECT_FALSE(cache.try_save(foreign));
  EXPECT_EQ(testing::read_file(foreign), bytes_of("someone else's file, not a cache"));

  const auto newer = dir / "v2.cache";
  auto v2 = raw::file({});
  v2[8] = 2;
  testing::write_file(newer, v2);
  EXPECT_FALSE(cache.try_save(newer));
  EXPECT_EQ(testing::read_file(newer), v2);
  EXPECT_EQ(warnings.count(), 2u);
  EXPECT_TRUE(cache.get({"cpu", "x86", "a"}));
}

}  // namespace
}  // namespace rtscope
