// runtime_config and graph_capture scopes over modules, models and lists,
// on the testing and cpu plugins.
#include "rtscope/scopes.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/env_guard.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;

class ScopesTest : public testing::TestingAndCpu {
 protected:
  void SetUp() override {
    TestingAndCpu::SetUp();
    model_ =
        Model::build(testing::three_module_graph(), registry_, {.backends = {"testing", "cpu"}});
    ASSERT_EQ(model_->modules().size(), 3u);
    x_ = Tensor::random(DType::f32, {4, 8}, 5);
  }

  std::vector<KernelSpecialization> specializations() const {
    std::vector<KernelSpecialization> result;
    for (Module* m : model_->modules())
      result.push_back(m->runtime_settings().kernel_specialization);
    return result;
  }

  std::unique_ptr<Model> model_;
  Tensor x_;
};

using KS = KernelSpecialization;

TEST_F(ScopesTest, RuntimeConfigAppliesToEveryModuleAndRestoresOnExit) {
  // The modules span both plugins, so the scope reaches each of them.
  std::vector<std::string> plugins;
  for (Module* m : model_->modules()) plugins.push_back(m->plugin().id());
  EXPECT_EQ(plugins, (std::vector<std::string>{"cpu", "testing", "cpu"}));
  {
    auto scope = runtime_config(*model_, {{"kernel_specialization", "eager"}});
    EXPECT_EQ(scope.size(), 3u);
    EXPECT_EQ(specializations(), (std::vector<KS>{KS::eager, KS::eager, KS::eager}));
  }
  EXPECT_EQ(specializations(), (std::vector<KS>{KS::lazy, KS::lazy, KS::lazy}));
}

// rtscope/scopes.hpp alone presents the three scopes; nested, they give
// every module one context with all three applied.
TEST_F(ScopesTest, OneHeaderPresentsAllThreeScopes) {
  {
    auto config = runtime_config(*model_, {{"kernel_specialization", "eager"}});
    auto capture = graph_capture(*model_);
    auto cache = runtime_cache(*model_, InMemoryCache{});
    model_->run({{"x", x_}});
    model_->run({{"x", x_}});
    for (Module* m : model_->modules()) {
      EXPECT_EQ(m->runtime_settings().kernel_specialization, KS::eager) << m->name();
      EXPECT_EQ(m->runtime_settings().graph_capture, GraphCapture::whole_graph) << m->name();
      EXPECT_EQ(m->runtime_cache(), cache.cache()) << m->name();
      EXPECT_EQ(m->stats().contexts_created, 1u) << m->name();
    }
  }
  for (Module* m : model_->modules()) {
    EXPECT_EQ(m->runtime_settings(), RuntimeSettings{}) << m->name();
  }
}

TEST_F(ScopesTest, NestedScopesRestoreLifo) {
  Module& first = *model_->modules()[0];
  {
    auto outer = runtime_config(*model_, {{"kernel_specialization", "eager"}});
    {
      auto inner = runtime_config(
          first, {{"kernel_specialization", "none"}, {"graph_capture", "whole_graph"}});
      EXPECT_EQ(first.runtime_settings().kernel_specialization, KS::none);
      EXPECT_EQ(first.runtime_settings().graph_capture, GraphCapture::whole_graph);
      EXPECT_EQ(model_->modules()[1]->runtime_settings().kernel_specialization, KS::eager);
    }
    EXPECT_EQ(first.runtime_settings().kernel_specialization, KS::eager);
    EXPECT_EQ(first.runtime_settings().graph_capture, GraphCapture::disabled);
  }
  EXPECT_EQ(first.runtime_settings(), RuntimeSettings{});
}

TEST_F(ScopesTest, ListOfTargetsCoversEachOne) {
  auto other = Model::build(testing::scale_relu_graph(), registry_, {.backends = {"testing"}});
  {
    auto scope =
        runtime_config({*model_->modules()[2], *other}, {{"kernel_specialization", "none"}});
    EXPECT_EQ(scope.size(), 2u);
    EXPECT_EQ(specializations(), (std::vector<KS>{KS::lazy, KS::lazy, KS::none}));
    EXPECT_EQ(other->modules()[0]->runtime_settings().kernel_specialization, KS::none);
  }
  EXPECT_EQ(other->modules()[0]->runtime_settings().kernel_specialization, KS::lazy);
}

TEST_F(ScopesTest, MovedScopeRestoresOnce) {
  auto make = [&] { return runtime_config(*model_, {{"kernel_specialization", "none"}}); };
  {
    auto scope = make();
    auto moved = std::move(scope);
    EXPECT_EQ(scope.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(specializations()[0], KS::none);
  }
  EXPECT_EQ(specializations()[0], KS::lazy);
}

TEST_F(ScopesTest, BadOverrideChangesNothing) {
  EXPECT_THROW(
      {
        auto s = runtime_config(*model_, {{"kernel_specialization", "sometimes"}});
      },
      InputError);
  EXPECT_THROW({ auto s = runtime_config(*model_, {{"colour", "blue"}}); }, InputError);
  EXPECT_EQ(specializations(), (std::vector<KS>{KS::lazy, KS::lazy, KS::lazy}));
}

TEST_F(ScopesTest, FailureInjectedByAPluginRollsBackModulesAlreadyChanged) {
  // Module 0 runs on cpu and accepts; module 1 runs on testing and rejects.
  ASSERT_EQ(model_->modules()[0]->plugin().id(), "cpu");
  ASSERT_EQ(model_->modules()[1]->plugin().id(), "testing");
  testing::EnvGuard reject("RTSCOPE_TESTING_CONFIG",
                           "fail_validate_settings=eager kernels unavailable");
  try {
    auto scope = runtime_config(*model_, {{"kernel_specialization", "eager"}});
    FAIL() << "expected the testing plugin to reject eager";
  } catch (const PluginError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("eager kernels unavailable"));
  }
  EXPECT_EQ(specializations(), (std::vector<KS>{KS::lazy, KS::lazy, KS::lazy}));
}

TEST_F(ScopesTest, ConfigThenCaptureCreatesExactlyOneContextPerModule) {
  {
    auto config = runtime_config(*model_, {{"kernel_specialization", "eager"}});
    auto capture = graph_capture(*model_);
    for (int i = 0; i < 4; ++i) model_->run({{"x", x_}});
  }
  for (Module* m : model_->modules()) EXPECT_EQ(m->stats().contexts_created, 1u) << m->name();
}

TEST_F(ScopesTest, CollapsedFormAlsoCreatesOneContextPerModule) {
  model_->run({{"x", x_}});  // one context each under the default settings
  {
    auto both = runtime_config(
        *model_, {{"kernel_specialization", "eager"}, {"graph_capture", "whole_graph"}});
    for (int i = 0; i < 3; ++i) model_->run({{"x", x_}});
  }
  for (Module* m : model_->modules()) EXPECT_EQ(m->stats().contexts_created, 2u) << m->name();
}

TEST_F(ScopesTest, CaptureRecordsOnceReplaysAfterAndStopsWhenTheScopeEnds) {
  auto model = Model::build(testing::scale_relu_graph(), registry_, {.backends = {"testing"}});
  Module& module = *model->modules()[0];
  const Tensor x = Tensor::random(DType::f32, {16}, 12);
  const auto eager = model->run({{"x", x}}).at("y").to_doubles();
  {
    auto capture = graph_capture(*model);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(model->run({{"x", x}}).at("y").to_doubles(), eager) << "replay " << i;
    }
    const auto counters = module.stats().plugin_counters;
    EXPECT_EQ(counters.at("records"), 1u);
    EXPECT_EQ(counters.at("replays"), 4u);
  }
  model->run({{"x", x}});
  const auto counters = module.stats().plugin_counters;
  EXPECT_EQ(counters.at("records"), 0u) << "a fresh context without capture";
  EXPECT_EQ(counters.at("replays"), 0u);
}

TEST_F(ScopesTest, InFlightExecuteKeepsItsContextWhileAnotherThreadSwapsSettings) {
  auto model = Model::build(testing::scale_relu_graph(), registry_, {.backends = {"testing"}});
  auto probe = Model::build(testing::scale_relu_graph(4), registry_, {.backends = {"testing"}});
  const Tensor x = Tensor::random(DType::f32, {16}, 2);
  const auto expected = model->run({{"x", x}}).at("y").to_doubles();
  probe->run({{"x", Tensor::random(DType::f32, {4}, 1)}});
  auto live_contexts = [&] {
    return probe->modules()[0]->stats().plugin_counters.at("contexts_live");
  };
  ASSERT_EQ(live_contexts(), 2u);

  testing::EnvGuard slow("RTSCOPE_TESTING_CONFIG", "execute_cost_us=200000");
  std::atomic<bool> started{false};
  std::vector<double> in_flight_result;
  std::thread runner([&] {
    started = true;
    in_flight_result = model->run({{"x", x}}).at("y").to_doubles();
  });
  while (!started) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    auto scope = runtime_config(*model, {{"graph_capture", "whole_graph"}});
    // The module dropped its context; the execute in flight still holds it.
    EXPECT_EQ(model->modules()[0]->stats().plugin_counters.size(), 0u);
    EXPECT_EQ(live_contexts(), 2u);
  }
  runner.join();
  EXPECT_EQ(live_contexts(), 1u) << "the in-flight context must be freed once it finishes";
  EXPECT_EQ(in_flight_result, expected);
  EXPECT_EQ(model->modules()[0]->stats().contexts_created, 1u)
      << "the swap must not create a context by itself";
  model->run({{"x", x}});
  EXPECT_EQ(model->modules()[0]->stats().contexts_created, 2u);
}

TEST_F(ScopesTest, ConcurrentExecutesAndScopesStayCorrect) {
  auto model = Model::build(testing::scale_relu_graph(), registry_, {.backends = {"testing"}});
  const Tensor x = Tensor::random(DType::f32, {16}, 4);
  const auto expected = model->run({{"x", x}}).at("y").to_doubles();
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t) {
    workers.emplace_back([&] {
      // Both workers share one Module; its executes serialize on the context.
      while (!stop) {
        if (model->modules()[0]->execute({x})[0].to_doubles() != expected) ++wrong;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    auto config = runtime_config(*model, {{"kernel_specialization", i % 2 ? "eager" : "none"}});
    auto capture = graph_capture(*model);
  }
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(model->modules()[0]->runtime_settings(), RuntimeSettings{});
}

}  // namespace
}  // namespace rtscope
