// runtime_cache scope and the implicit cache of a `runtime_cache: PATH`
// setting, with the testing plugin's simulated kernel compiles and the cpu
// plugin's tuning results as the cached work.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

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

// A string stream that counts how often it is rewound for writing: the
// scope rewinds once per save.
class CountingStream : public std::iostream {
 public:
  CountingStream() : std::iostream(nullptr) { rdbuf(&buffer_); }
  int saves() const { return buffer_.rewinds; }
  std::string bytes() const { return buffer_.str(); }

 private:
  struct Buffer : std::stringbuf {
    Buffer() : std::stringbuf(std::ios::in | std::ios::out | std::ios::binary) {}
    int rewinds = 0;
    pos_type seekpos(pos_type pos, std::ios::openmode which) override {
      if ((which & std::ios::out) && pos == pos_type(0)) ++rewinds;
      return std::stringbuf::seekpos(pos, which);
    }
  } buffer_;
};

class RuntimeCacheScopeTest : public testing::TestingAndCpu {
 protected:
  void SetUp() override { TestingAndCpu::SetUp(); }
  std::unique_ptr<Model> testing_model() {
    return Model::build(testing::scale_relu_graph(), registry_, {.backends = {"testing"}});
  }

  testing::EnvGuard compile_cost_{"RTSCOPE_TESTING_CONFIG", "compile_cost_ms=1"};
  testing::TempDir dir_;
};

TEST_F(RuntimeCacheScopeTest, EmptyTargetIsAnError) {
  EXPECT_THROW({ auto c = runtime_cache(std::vector<Module*>{}); }, InputError);
}

TEST_F(RuntimeCacheScopeTest, ModulesOfTwoPluginsShareOneCacheAndTheFileHoldsBoth) {
  auto on_testing = testing_model();
  // Large enough that the cpu plugin has kernel variants to tune (tiny
  // work only ever runs inline).
  constexpr int64_t kCpuElements = 4096;
  auto on_cpu =
      Model::build(testing::scale_relu_graph(kCpuElements), registry_, {.backends = {"cpu"}});
  const auto path = dir_ / "shared.cache";
  {
    auto cache = runtime_cache({*on_testing, *on_cpu}, path);
    EXPECT_EQ(cache.loaded_bytes(), 0u) << "a missing file is a cold start";
    EXPECT_EQ(on_testing->modules()[0]->runtime_cache(), cache.cache());
    EXPECT_EQ(on_cpu->modules()[0]->runtime_cache(), cache.cache());
    auto eager = runtime_config(*on_cpu, {{"kernel_specialization", "eager"}});
    run_scale_relu(*on_testing);
    run_scale_relu(*on_cpu, kCpuElements);
    EXPECT_EQ(plugin_counter(*on_testing, "kernels_compiled"), 2u);
  }
  EXPECT_EQ(on_testing->modules()[0]->runtime_cache(), nullptr) << "detached on exit";

  RuntimeCache reloaded;
  ASSERT_GT(reloaded.load(path), 0u);
  const auto testing_fp = registry_.get("testing")->devices()[0].fingerprint;
  EXPECT_TRUE(reloaded.get({"testing", testing_fp, "kernel/scale/scale"}).has_value());
  std::size_t cpu_entries = reloaded.size() - 2;
  EXPECT_GT(cpu_entries, 0u) << "the cpu plugin's tuning results are missing";
}

TEST_F(RuntimeCacheScopeTest, WarmScopeSkipsTheCompiles) {
  const auto path = dir_ / "warm.cache";
  {
    auto model = testing_model();
    auto cache = runtime_cache(*model, path);
    run_scale_relu(*model);
    EXPECT_EQ(plugin_counter(*model, "kernel_cache_hits"), 0u);
  }
  auto model = testing_model();
  auto cache = runtime_cache(*model, path);
  EXPECT_GT(cache.loaded_bytes(), 0u);
  run_scale_relu(*model);
  EXPECT_EQ(plugin_counter(*model, "kernels_compiled"), 0u);
  EXPECT_EQ(plugin_counter(*model, "kernel_cache_hits"), 2u);
}

TEST_F(RuntimeCacheScopeTest, SavedExactlyOnceOnExitAndRestoredSettings) {
  auto model = testing_model();
  CountingStream stream;
  {
    auto cache = runtime_cache(*model, stream);
    run_scale_relu(*model);
    EXPECT_EQ(stream.saves(), 0);
  }
  EXPECT_EQ(stream.saves(), 1);
  EXPECT_EQ(model->modules()[0]->runtime_settings(), RuntimeSettings{});
  std::stringstream copy(stream.bytes());
  RuntimeCache reloaded;
  EXPECT_GT(reloaded.load_from_stream(copy), 0u);
  EXPECT_EQ(reloaded.size(), 2u);
}

TEST_F(RuntimeCacheScopeTest, FstreamRoundTrip) {
  const auto path = dir_ / "stream.cache";
  { std::ofstream create(path); }
  {
    auto model = testing_model();
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    auto cache = runtime_cache(*model, file);
    run_scale_relu(*model);
  }
  auto model = testing_model();
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  auto cache = runtime_cache(*model, file);
  run_scale_relu(*model);
  EXPECT_EQ(plugin_counter(*model, "kernel_cache_hits"), 2u);
}

TEST_F(RuntimeCacheScopeTest, ExceptionInTheBodyStillSavesAndPropagates) {
  auto model = testing_model();
  const auto path = dir_ / "body.cache";
  try {
    auto cache = runtime_cache(*model, path);
    run_scale_relu(*model);
    throw std::runtime_error("body failed");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "body failed");
  }
  RuntimeCache reloaded;
  EXPECT_GT(reloaded.load(path), 0u);
  EXPECT_EQ(reloaded.size(), 2u);
}

TEST_F(RuntimeCacheScopeTest, ExplicitSaveThrowsButExitOnlyWarns) {
  auto model = testing_model();
  // Missing folders are created on save; a file in the way of one is not.
  std::ofstream(dir_ / "a-file") << "in the way";
  const auto path = dir_ / "a-file" / "x.cache";
  auto cache = std::make_unique<RuntimeCacheScope>(runtime_cache(*model, path));
  run_scale_relu(*model);
  EXPECT_THROW(cache->save(), Error);
  EXPECT_NO_THROW(cache.reset());
}

TEST_F(RuntimeCacheScopeTest, InMemoryCacheWorksWithoutAFile) {
  auto model = testing_model();
  auto cache = runtime_cache(*model);
  run_scale_relu(*model);
  EXPECT_EQ(cache.cache()->size(), 2u);
  EXPECT_EQ(cache.save(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
}

TEST_F(RuntimeCacheScopeTest, ImplicitPathCacheAutosavesWhenTheModuleIsDestroyed) {
  const auto path = dir_ / "implicit.cache";
  {
    auto model = testing_model();
    auto settings = model->modules()[0]->runtime_settings();
    model->modules()[0]->set_runtime_settings(settings.merge({{"runtime_cache", path.string()}}));
    run_scale_relu(*model);
    EXPECT_FALSE(std::filesystem::exists(path)) << "saved before the module went away";
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  auto model = testing_model();
  model->modules()[0]->set_runtime_settings(
      RuntimeSettings{}.merge({{"runtime_cache", path.string()}}));
  run_scale_relu(*model);
  EXPECT_EQ(plugin_counter(*model, "kernel_cache_hits"), 2u);
}

TEST_F(RuntimeCacheScopeTest, SwitchingPathsSavesTheOldOne) {
  const auto first = dir_ / "first.cache";
  const auto second = dir_ / "second.cache";
  auto model = testing_model();
  Module& module = *model->modules()[0];
  module.set_runtime_settings(RuntimeSettings{}.merge({{"runtime_cache", first.string()}}));
  run_scale_relu(*model);
  module.set_runtime_settings(RuntimeSettings{}.merge({{"runtime_cache", second.string()}}));
  EXPECT_TRUE(std::filesystem::exists(first));
  EXPECT_FALSE(std::filesystem::exists(second));
  RuntimeCache reloaded;
  reloaded.load(first);
  EXPECT_EQ(reloaded.size(), 2u);
}

}  // namespace
}  // namespace rtscope
