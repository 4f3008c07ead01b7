// RuntimeCache in one process: keyed store, round trips through files and
// streams, merging, LRU eviction, lazy validation of loaded bytes, threads.
#include "rtscope/runtime_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "cache/cache_test_support.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using testing::bytes_of;
using testing::put;
using testing::TempDir;
using testing::Warnings;

const CacheKey kA{"cpu", "x86-avx2", "matmul-64"};
const CacheKey kB{"cpu", "x86-avx2", "softmax-8"};
const CacheKey kC{"vulkan", "gpu-1234|driver-5", "pipeline/abc"};

// A payload with every byte value, zeros included.
std::vector<uint8_t> binary_payload(std::size_t size, uint8_t seed) {
  std::vector<uint8_t> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(i * 31 + seed);
  return out;
}

void fill(RuntimeCache& cache) {
  put(cache, kA, binary_payload(1000, 1));
  put(cache, kB, {});  // an empty payload is a valid entry
  put(cache, kC, binary_payload(1 << 20, 7));
}

void expect_filled(RuntimeCache& cache) {
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.get(kA), binary_payload(1000, 1));
  EXPECT_EQ(cache.get(kB), std::vector<uint8_t>{});
  EXPECT_EQ(cache.get(kC), binary_payload(1 << 20, 7));
  const CacheCounters c = cache.counters();
  EXPECT_EQ(c.hits, 3u);
  EXPECT_EQ(c.rejected, 0u);
  EXPECT_EQ(c.bytes, 1000u + (1u << 20));
}

TEST(RuntimeCache, GetPutAndCounters) {
  RuntimeCache cache;
  EXPECT_FALSE(cache.get(kA).has_value());
  put(cache, kA, bytes_of("one"));
  put(cache, kA, bytes_of("three"));  // replaces
  EXPECT_EQ(cache.get(kA), bytes_of("three"));
  const CacheCounters c = cache.counters();
  EXPECT_EQ(c.hits, 1u);
  EXPECT_EQ(c.misses, 1u);
  EXPECT_EQ(c.bytes, 5u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RuntimeCache, KeyFieldsAreSeparateKeys) {
  RuntimeCache cache;
  put(cache, {"p", "fp1", "k"}, bytes_of("a"));
  EXPECT_FALSE(cache.get({"p", "fp2", "k"}).has_value());
  EXPECT_FALSE(cache.get({"q", "fp1", "k"}).has_value());
  EXPECT_TRUE(cache.get({"p", "fp1", "k"}).has_value());
}

TEST(RuntimeCache, RoundTripThroughPath) {
  TempDir dir;
  const auto path = dir / "rt.cache";
  RuntimeCache writer;
  fill(writer);
  const uint64_t written = writer.save(path);
  EXPECT_EQ(written, std::filesystem::file_size(path));

  RuntimeCache reader;
  EXPECT_EQ(reader.load(path), written);
  expect_filled(reader);
}

TEST(RuntimeCache, RoundTripThroughStringStream) {
  RuntimeCache writer;
  fill(writer);
  std::stringstream stream;
  const uint64_t written = writer.save_to_stream(stream);
  EXPECT_EQ(written, stream.str().size());

  RuntimeCache reader;
  EXPECT_EQ(reader.load_from_stream(stream), written);
  expect_filled(reader);
}

TEST(RuntimeCache, RoundTripThroughFileStream) {
  TempDir dir;
  const auto path = dir / "stream.cache";
  RuntimeCache writer;
  fill(writer);
  uint64_t written;
  {
    std::ofstream out(path, std::ios::binary);
    written = writer.save_to_stream(out);
  }
  EXPECT_EQ(written, std::filesystem::file_size(path));

  RuntimeCache reader;
  std::ifstream in(path, std::ios::binary);
  EXPECT_EQ(reader.load_from_stream(in), written);
  expect_filled(reader);
}

TEST(RuntimeCache, InMemoryOnlyWritesNothingToDisk) {
  TempDir dir;
  const auto old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  {
    RuntimeCache cache;
    fill(cache);
    expect_filled(cache);
    std::stringstream stream;
    cache.save_to_stream(stream);
  }
  std::filesystem::current_path(old_cwd);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(RuntimeCache, MissingFileIsAColdStartWithoutWarning) {
  TempDir dir;
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  EXPECT_EQ(cache.load(dir / "absent.cache"), 0u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(warnings.count(), 0u);
}

TEST(RuntimeCache, SaveMergesWithTheFileOnDisk) {
  TempDir dir;
  const auto path = dir / "merge.cache";
  RuntimeCache first;
  put(first, kA, bytes_of("from first"));
  first.save(path);
  RuntimeCache second;
  put(second, kB, bytes_of("from second"));
  second.save(path);

  // The second save kept the first's entry, and the saver now holds both.
  EXPECT_EQ(second.size(), 2u);
  EXPECT_EQ(testing::read_back(path, kA), bytes_of("from first"));
  EXPECT_EQ(testing::read_back(path, kB), bytes_of("from second"));
}

TEST(RuntimeCache, NewerWriteWinsOverAStaleCopy) {
  TempDir dir;
  const auto path = dir / "newer.cache";
  RuntimeCache stale;
  put(stale, kA, bytes_of("old"));
  RuntimeCache fresh;
  put(fresh, kA, bytes_of("new"));  // written after `stale`'s put
  fresh.save(path);
  stale.get(kA);  // using an entry does not make it newer
  stale.save(path);

  EXPECT_EQ(stale.get(kA), bytes_of("new"));
  EXPECT_EQ(testing::read_back(path, kA), bytes_of("new"));
}

TEST(RuntimeCache, LoadedBytesAreValidatedOnFirstUse) {
  // One good entry and one whose payload checksum fails.
  auto good = testing::raw::entry("cpu", "fp", "good", bytes_of("payload"));
  auto bad = testing::raw::entry("cpu", "fp", "bad", bytes_of("payload"));
  bad.back() ^= 0x01;
  std::stringstream stream;
  const auto image = testing::raw::file({good, bad});
  stream.write(reinterpret_cast<const char*>(image.data()), image.size());

  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  EXPECT_EQ(cache.load_from_stream(stream), image.size());
  EXPECT_EQ(warnings.count(), 0u);  // still pending
  EXPECT_EQ(cache.get({"cpu", "fp", "good"}), bytes_of("payload"));
  EXPECT_EQ(warnings.count(), 1u);  // drained by the first get
  EXPECT_EQ(cache.counters().rejected, 1u);
}

TEST(RuntimeCache, LoadKeepsNewerEntriesAlreadyInMemory) {
  std::stringstream stream;
  {
    RuntimeCache older;
    put(older, kA, bytes_of("older"));
    put(older, kB, bytes_of("only on disk"));
    older.save_to_stream(stream);
  }
  RuntimeCache cache;
  put(cache, kA, bytes_of("newer"));
  cache.load_from_stream(stream);
  EXPECT_EQ(cache.get(kA), bytes_of("newer"));
  EXPECT_EQ(cache.get(kB), bytes_of("only on disk"));
}

TEST(RuntimeCache, SaveEvictsLeastRecentlyUsedOverTheCap) {
  TempDir dir;
  const auto path = dir / "lru.cache";
  RuntimeCache::Options options;
  // Room for two 1000-byte entries plus headers, not three.
  options.max_bytes = 2 * (56 + 20 + 1000) + 16 + 24 + 100;
  RuntimeCache cache(options);
  put(cache, {"cpu", "fp", "first"}, std::vector<uint8_t>(1000, 1));
  put(cache, {"cpu", "fp", "second"}, std::vector<uint8_t>(1000, 2));
  put(cache, {"cpu", "fp", "third"}, std::vector<uint8_t>(1000, 3));
  ASSERT_TRUE(cache.get({"cpu", "fp", "first"}));  // now "second" is the oldest used

  EXPECT_LE(cache.save(path), options.max_bytes);
  EXPECT_EQ(cache.counters().evicted, 1u);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.get({"cpu", "fp", "second"}));

  RuntimeCache reader;
  reader.load(path);
  EXPECT_TRUE(reader.get({"cpu", "fp", "first"}));
  EXPECT_TRUE(reader.get({"cpu", "fp", "third"}));
  EXPECT_FALSE(reader.get({"cpu", "fp", "second"}));
}

TEST(RuntimeCache, LastUsedTimeIsPersisted) {
  // Entry "old" was used long ago, "recent" lately (times in the file); the
  // cap fits one, so the save must evict "old" even though both are loaded.
  const auto image = testing::raw::file(
      {testing::raw::entry("cpu", "fp", "old", std::vector<uint8_t>(500, 1), 10, 10),
       testing::raw::entry("cpu", "fp", "recent", std::vector<uint8_t>(500, 2), 10, 20)});
  std::stringstream in;
  in.write(reinterpret_cast<const char*>(image.data()), image.size());
  RuntimeCache::Options options;
  options.max_bytes = 56 + 14 + 500 + 16 + 24;
  RuntimeCache cache(options);
  cache.load_from_stream(in);
  std::stringstream out;
  cache.save_to_stream(out);
  EXPECT_EQ(cache.counters().evicted, 1u);
  EXPECT_TRUE(cache.get({"cpu", "fp", "recent"}));
  EXPECT_FALSE(cache.get({"cpu", "fp", "old"}));
}

TEST(RuntimeCache, ThreadsShareOneCacheAndOneFile) {
  TempDir dir;
  const auto path = dir / "threads.cache";
  Warnings warnings;
  RuntimeCache shared(testing::options_with(warnings));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Each thread also has its own cache saving into the same file, to
      // exercise the in-process lock between cache objects.
      RuntimeCache own(testing::options_with(warnings));
      for (int i = 0; i < 50; ++i) {
        const std::string key = std::to_string(t) + "-" + std::to_string(i);
        put(shared, {"cpu", "fp", "shared-" + key}, bytes_of(key));
        put(own, {"cpu", "fp", "own-" + key}, bytes_of(key));
        EXPECT_EQ(shared.get({"cpu", "fp", "shared-" + key}), bytes_of(key));
        if (i % 10 == 9) {
          EXPECT_TRUE(shared.try_save(path));
          EXPECT_TRUE(own.try_save(path));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(warnings.count(), 0u);
  RuntimeCache reader;
  reader.load(path);
  EXPECT_EQ(reader.size(), 400u);
  EXPECT_EQ(reader.counters().rejected, 0u);
}

}  // namespace
}  // namespace rtscope
