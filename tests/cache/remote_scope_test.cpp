// The runtime_cache scope with a remote tier: a second host with an empty
// local file skips the compiles the first host paid for.
#include <gtest/gtest.h>

#include "cache/redis_server.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "support/env_guard.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using testing::plugin_counter;
using testing::run_scale_relu;

class RemoteScope : public ::testing::Test {
 protected:
  void SetUp() override {
    RTSCOPE_SKIP_WITHOUT_REDIS();
    registry_.load({.name = "testing"});
  }
  std::unique_ptr<Model> model() {
    return Model::build(testing::scale_relu_graph(), registry_, {.backends = {"testing"}});
  }

  testing::EnvGuard compile_cost_{"RTSCOPE_TESTING_CONFIG", "compile_cost_ms=1"};
  PluginRegistry registry_;
  testing::TempDir dir_;
};

TEST_F(RemoteScope, SecondHostSkipsTheCompilesThroughTheSharedTier) {
  testing::RedisServer server;
  {
    auto first = model();
    auto cache = runtime_cache(*first, dir_.path() / "host1.cache", {.remote = server.url("ns")});
    run_scale_relu(*first);
    EXPECT_EQ(plugin_counter(*first, "kernels_compiled"), 2u);
  }
  auto second = model();
  auto cache = runtime_cache(*second, dir_.path() / "host2.cache", {.remote = server.url("ns")});
  EXPECT_EQ(cache.loaded_bytes(), 0u) << "the second host's file is empty";
  run_scale_relu(*second);
  EXPECT_EQ(plugin_counter(*second, "kernels_compiled"), 0u);
  EXPECT_EQ(plugin_counter(*second, "kernel_cache_hits"), 2u);
  EXPECT_EQ(cache.cache()->counters().remote_fetched, 2u);
}

TEST_F(RemoteScope, MalformedRemoteUrlThrowsOnEntry) {
  auto m = model();
  EXPECT_THROW({ auto c = runtime_cache(*m, dir_.path() / "c.cache", {.remote = "redis://h:1/"}); },
               InputError);
}

}  // namespace
}  // namespace rtscope
