// rtscope-cache push, pull and info against a real redis-server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "cache/cache_test_support.hpp"
#include "cache/redis_server.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/run_merged.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using testing::RedisServer;
using testing::TempDir;

using ToolResult = testing::MergedResult;

ToolResult run_tool(const std::string& args) {
  return testing::run_merged(std::string(RTSCOPE_CACHE_TOOL) + " " + args);
}

std::vector<uint8_t> random_bytes(uint32_t seed, std::size_t size) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (auto& b : out) b = static_cast<uint8_t>(1 + rng() % 255);
  return out;
}

CacheKey key_of(int i) { return {"cpu", i < 4 ? "dev-A" : "dev-B", "k" + std::to_string(i)}; }

class RemoteTool : public ::testing::Test {
 protected:
  void SetUp() override {
    RTSCOPE_SKIP_WITHOUT_REDIS();
    unsetenv("RTSCOPE_REDIS_PASSWORD");
    file_ = (dir_.path() / "build-machine.cache").string();
    testing::Warnings warnings;
    RuntimeCache cache(testing::options_with(warnings));
    for (int i = 0; i < 5; ++i) testing::put(cache, key_of(i), random_bytes(i, 100 + i));
    cache.save(file_);
  }
  TempDir dir_;
  std::string file_;
};

TEST_F(RemoteTool, PushSeedsTheTierInfoListsItAndPullFillsAFile) {
  RedisServer server;
  const std::string url = server.url("fleet");
  ToolResult pushed = run_tool("push " + file_ + " " + url);
  ASSERT_EQ(pushed.exit_code, 0) << pushed.output;
  EXPECT_THAT(pushed.output, HasSubstr("5 new, 0 already there"));
  pushed = run_tool("push " + file_ + " " + url);
  EXPECT_THAT(pushed.output, HasSubstr("0 new, 5 already there"));

  const ToolResult info = run_tool("info " + url);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output, HasSubstr("fingerprints: 2"));
  EXPECT_THAT(info.output, HasSubstr("entries: 5"));
  EXPECT_THAT(info.output, HasSubstr("plugin 'cpu' fingerprint 'dev-A': 4 entries, 406 bytes"));
  EXPECT_THAT(info.output, HasSubstr("plugin 'cpu' fingerprint 'dev-B': 1 entries, 104 bytes"));

  const std::string host_file = (dir_.path() / "host.cache").string();
  const ToolResult pulled = run_tool("pull " + url + " " + host_file);
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  EXPECT_THAT(pulled.output, HasSubstr("pulled 5 entries"));
  testing::Warnings warnings;
  RuntimeCache host(testing::options_with(warnings));
  host.load(host_file);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(host.get(key_of(i)), random_bytes(i, 100 + i)) << i;
  EXPECT_EQ(warnings.count(), 0u);
}

TEST_F(RemoteTool, InvalidValuesAreReportedAndNotPulled) {
  RedisServer server;
  const std::string url = server.url("fleet");
  ASSERT_EQ(run_tool("push " + file_ + " " + url).exit_code, 0);
  const auto keys = server.strings({"KEYS", "rtscope:fleet:*:e:*"});
  ASSERT_EQ(keys.size(), 5u);
  server.command({"SET", keys[0], "not a cache entry"});

  const ToolResult info = run_tool("info " + url);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_THAT(info.output, HasSubstr("invalid entries: 1"));
  EXPECT_THAT(info.output, HasSubstr("entries: 4"));
  const std::string host_file = (dir_.path() / "host.cache").string();
  const ToolResult pulled = run_tool("pull " + url + " " + host_file);
  EXPECT_EQ(pulled.exit_code, 0);
  EXPECT_THAT(pulled.output, HasSubstr("pulled 4 entries"));
  EXPECT_THAT(pulled.output, HasSubstr("skipped 1 invalid entries"));
}

TEST_F(RemoteTool, AnUnreachableServerIsAnError) {
  const std::string url =
      "redis://127.0.0.1:" + std::to_string(testing::unused_loopback_port()) + "/fleet";
  const ToolResult pushed = run_tool("push " + file_ + " " + url);
  EXPECT_EQ(pushed.exit_code, 2);
  EXPECT_THAT(pushed.output, HasSubstr("cannot connect"));
  const ToolResult bad = run_tool("info 'redis://h:1/'");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("no NAMESPACE"));
}

}  // namespace
}  // namespace rtscope
