// kit::complete_cache and kit::cache_get: the host's runtime cache store as
// every backend reads it, an incomplete store counting as none.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "rtscope/kit/settings.hpp"

namespace rtscope::kit {
namespace {

using Entries = std::map<std::string, std::string>;

rts_status get(void* user, const char* fingerprint, const char* key, const rts_blob_sink* sink) {
  const Entries& entries = *static_cast<const Entries*>(user);
  const auto found = entries.find(std::string(fingerprint) + "/" + key);
  if (found == entries.end()) return RTS_ERROR_NOT_FOUND;
  sink->write(sink->user, found->second.data(), found->second.size());
  return RTS_OK;
}

rts_status put(void*, const char*, const char*, const void*, uint64_t) { return RTS_OK; }

TEST(CacheStore, AnIncompleteStoreCountsAsNone) {
  Entries entries;
  rts_cache_store store{sizeof(rts_cache_store), &entries, get, put};
  EXPECT_EQ(complete_cache(nullptr), nullptr);
  EXPECT_EQ(complete_cache(&store), &store);
  rts_cache_store no_put = store;
  no_put.put = nullptr;
  EXPECT_EQ(complete_cache(&no_put), nullptr);
  rts_cache_store short_struct = store;
  short_struct.struct_size = offsetof(rts_cache_store, put);
  EXPECT_EQ(complete_cache(&short_struct), nullptr);
}

TEST(CacheStore, GetReadsAHitAndReportsAMiss) {
  Entries entries = {{"dev/0/key", std::string("\x01\x00\x02", 3)}};
  const rts_cache_store store{sizeof(rts_cache_store), &entries, get, put};
  std::vector<uint8_t> bytes = {9, 9, 9, 9};
  EXPECT_EQ(cache_get(store, "dev/0", "key", bytes), RTS_OK);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{1, 0, 2}));
  EXPECT_EQ(cache_get(store, "dev/0", "other", bytes), RTS_ERROR_NOT_FOUND);
  EXPECT_TRUE(bytes.empty());
}

}  // namespace
}  // namespace rtscope::kit
