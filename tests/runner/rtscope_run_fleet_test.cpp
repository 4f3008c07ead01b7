// rtscope-run with a shared Redis tier (runtime.cache_remote): a fleet of
// processes, each with its own empty local cache file, warm-starts from what
// one process pushed; a dead server never fails a run; a bad URL is a config
// error at its line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cache/redis_server.hpp"
#include "runner/rtscope_run_fixture.hpp"

namespace rtscope_run_test {
namespace {

using rtscope::testing::RedisServer;
using ::testing::HasSubstr;
using ::testing::Not;

// Eager specialization tunes every kernel before the first inference; a
// tuning result is a cache entry, so a warm start tunes nothing.
const std::string kFleetConfig = tiny_decoder_config("eager", /*warmup=*/1, /*iterations=*/4);

nlohmann::json cache_report(const fs::path& json_file) {
  const auto doc = nlohmann::json::parse(read_file(json_file));
  return doc.at("models").at("tiny").at("cache");
}

class RtscopeRunFleet : public RtscopeRun {
 protected:
  void SetUp() override {
    RTSCOPE_SKIP_WITHOUT_REDIS();
    RtscopeRun::SetUp();
  }

  std::string args(const std::string& name, const std::string& remote) {
    return config_.string() + " --set runtime.cache=" + (dir_ / (name + ".cache")).string() +
           " --set runtime.cache_remote=" + remote + " --json " +
           (dir_ / (name + ".json")).string();
  }

  fs::path config_;
};

TEST_F(RtscopeRunFleet, EightHostsWarmStartFromOneSharedTier) {
  RedisServer server;
  config_ = write("fleet.yaml", kFleetConfig);
  const std::string remote = server.url("fleet");

  const CommandResult seed = run(args("seed", remote));
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  const auto seeded = cache_report(dir_ / "seed.json");
  ASSERT_GT(seeded.at("misses").get<int>(), 0) << "the first host starts cold";
  ASSERT_GT(seeded.at("remote").at("pushed").get<int>(), 0);

  constexpr int kHosts = 8;
  std::vector<CommandResult> results(kHosts);
  std::vector<std::thread> hosts;
  for (int h = 0; h < kHosts; ++h) {
    const fs::path host_dir = dir_ / ("host" + std::to_string(h));
    fs::create_directories(host_dir);
    hosts.emplace_back([&, h, host_dir] {
      results[h] = rtscope::testing::run_command(binary_, args("host" + std::to_string(h), remote),
                                                 host_dir);
    });
  }
  for (auto& t : hosts) t.join();
  for (int h = 0; h < kHosts; ++h) {
    SCOPED_TRACE("host " + std::to_string(h));
    ASSERT_EQ(results[h].exit_code, 0) << results[h].err;
    EXPECT_THAT(results[h].err, Not(HasSubstr("warning"))) << results[h].err;
    const auto cache = cache_report(dir_ / ("host" + std::to_string(h) + ".json"));
    EXPECT_EQ(cache.at("misses").get<int>(), 0) << "no tuning: every lookup hit";
    EXPECT_EQ(cache.at("hits").get<int>(), seeded.at("misses").get<int>());
    EXPECT_EQ(cache.at("remote").at("fetched").get<int>(), seeded.at("remote").at("pushed"));
    EXPECT_EQ(cache.at("remote").at("rejected").get<int>(), 0);
    EXPECT_FALSE(cache.at("remote").at("failed").get<bool>());
    // Each host keeps what it fetched in its own file.
    EXPECT_GT(fs::file_size(dir_ / ("host" + std::to_string(h) + ".cache")), 100u);
  }
}

TEST_F(RtscopeRunFleet, DeadServerWarnsOnceAndTheRunGoesOnLocally) {
  config_ = write("fleet.yaml", kFleetConfig);
  const std::string remote =
      "redis://127.0.0.1:" + std::to_string(rtscope::testing::unused_loopback_port()) + "/fleet";
  const CommandResult result = run(args("alone", remote));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("running on the local tier only"));
  EXPECT_EQ(result.err.find("running on the local tier only"),
            result.err.rfind("running on the local tier only"))
      << "one warning: " << result.err;
  const auto cache = cache_report(dir_ / "alone.json");
  EXPECT_TRUE(cache.at("remote").at("failed").get<bool>());
  EXPECT_GT(fs::file_size(dir_ / "alone.cache"), 100u) << "the local tier was saved";
}

TEST_F(RtscopeRunFleet, RemoteUrlErrorsNameTheKeyAndLine) {
  config_ = write("fleet.yaml", kFleetConfig);
  const CommandResult with_password = run(args("x", "redis://:pw@127.0.0.1:6379/fleet"));
  EXPECT_EQ(with_password.exit_code, 1);
  EXPECT_THAT(with_password.err, HasSubstr("runtime.cache_remote"));
  EXPECT_THAT(with_password.err, HasSubstr("RTSCOPE_REDIS_PASSWORD"));

  const CommandResult without_file =
      run(config_.string() + " --set runtime.cache_remote=redis://127.0.0.1:6379/fleet");
  EXPECT_EQ(without_file.exit_code, 1);
  EXPECT_THAT(without_file.err, HasSubstr("cache_remote needs 'cache'"));
}

}  // namespace
}  // namespace rtscope_run_test
