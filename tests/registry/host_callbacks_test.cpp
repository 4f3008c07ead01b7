// The host's callbacks, called as a careless plugin would call them: NULL
// pointers, sizes larger than memory, entries larger than the cache. Each is
// a status or a dropped value, never a crash, and nothing unwinds out.
#include "host_callbacks.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace rtscope {
namespace {

constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max() / 2;

TEST(HostCallbacks, BlobSinkAppendsWrites) {
  std::vector<uint8_t> blob;
  const rts_blob_sink sink = host_callbacks::blob_sink(blob);
  const uint8_t first[] = {1, 2, 3};
  const uint8_t second[] = {4, 5};
  EXPECT_EQ(sink.write(sink.user, first, sizeof(first)), 0);
  EXPECT_EQ(sink.write(sink.user, second, sizeof(second)), 0);
  EXPECT_EQ(blob, (std::vector<uint8_t>{1, 2, 3, 4, 5}));
}

TEST(HostCallbacks, BlobSinkRefusesNullDataAndSizesLargerThanMemory) {
  std::vector<uint8_t> blob{9};
  const rts_blob_sink sink = host_callbacks::blob_sink(blob);
  EXPECT_NE(sink.write(sink.user, nullptr, 16), 0);
  const uint8_t byte = 7;
  // Before: the vector insert threw std::length_error through the plugin.
  EXPECT_NE(sink.write(sink.user, &byte, kHuge), 0);
  EXPECT_NE(sink.write(sink.user, &byte, std::numeric_limits<uint64_t>::max()), 0);
  EXPECT_EQ(sink.write(sink.user, nullptr, 0), 0);  // an empty write is a no-op
  EXPECT_EQ(blob, (std::vector<uint8_t>{9}));
}

TEST(HostCallbacks, CounterSinkRecordsValuesAndDropsNullNames) {
  std::map<std::string, uint64_t> counters;
  const rts_counter_sink sink = host_callbacks::counter_sink(counters);
  sink.counter(sink.user, "executes", 3);
  sink.counter(sink.user, nullptr, 4);  // before: std::string(nullptr), a crash
  sink.counter(sink.user, "executes", 5);
  EXPECT_EQ(counters, (std::map<std::string, uint64_t>{{"executes", 5}}));
}

struct Collected {
  std::vector<uint8_t> bytes;
  static int write(void* user, const void* data, uint64_t size) {
    auto* self = static_cast<Collected*>(user);
    const auto* begin = static_cast<const uint8_t*>(data);
    self->bytes.assign(begin, begin + size);
    return 0;
  }
};

RuntimeCache::Options small_cache() {
  RuntimeCache::Options options;
  options.max_bytes = 1024;
  return options;
}

TEST(HostCallbacks, CacheStoreRoundTripsUnderThePluginsOwnId) {
  RuntimeCache cache(small_cache());
  host_callbacks::CacheStore store(cache, "cpu");
  const rts_cache_store* abi = store.abi();
  const uint8_t payload[] = {10, 20, 30};
  ASSERT_EQ(abi->put(abi->user, "fp", "kernel", payload, sizeof(payload)), RTS_OK);
  Collected collected;
  const rts_blob_sink sink{&collected, &Collected::write};
  ASSERT_EQ(abi->get(abi->user, "fp", "kernel", &sink), RTS_OK);
  EXPECT_EQ(collected.bytes, (std::vector<uint8_t>{10, 20, 30}));
  // The plugin half of the key is the host's: another plugin's store misses.
  EXPECT_TRUE(cache.get({"cpu", "fp", "kernel"}).has_value());
  host_callbacks::CacheStore other(cache, "vulkan");
  EXPECT_EQ(other.abi()->get(other.abi()->user, "fp", "kernel", &sink), RTS_ERROR_NOT_FOUND);
}

TEST(HostCallbacks, CacheStoreRefusesCarelessArgumentsWithAStatus) {
  RuntimeCache cache(small_cache());
  host_callbacks::CacheStore store(cache, "cpu");
  const rts_cache_store* abi = store.abi();
  const uint8_t byte = 1;
  Collected collected;
  const rts_blob_sink sink{&collected, &Collected::write};
  const rts_blob_sink no_write{&collected, nullptr};

  EXPECT_EQ(abi->put(abi->user, nullptr, "k", &byte, 1), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(abi->put(abi->user, "fp", nullptr, &byte, 1), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(abi->put(abi->user, "fp", "k", nullptr, 1), RTS_ERROR_INVALID_ARGUMENT);
  // Before: a put larger than memory threw std::length_error into the plugin.
  EXPECT_EQ(abi->put(abi->user, "fp", "k", &byte, kHuge), RTS_ERROR_INVALID_ARGUMENT);
  // An entry larger than the whole cache is never stored.
  std::vector<uint8_t> big(2048, 5);
  EXPECT_EQ(abi->put(abi->user, "fp", "big", big.data(), big.size()), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cache.size(), 0u);

  ASSERT_EQ(abi->put(abi->user, "fp", "k", &byte, 1), RTS_OK);
  EXPECT_EQ(abi->get(abi->user, "fp", "k", nullptr), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(abi->get(abi->user, "fp", "k", &no_write), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(abi->get(abi->user, nullptr, "k", &sink), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(abi->get(abi->user, "fp", "k", &sink), RTS_OK);
  EXPECT_EQ(collected.bytes, std::vector<uint8_t>{1});
}

}  // namespace
}  // namespace rtscope
