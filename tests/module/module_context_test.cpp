// Module: lazy execution contexts, settings changes, binding checks and
// plugin failures, on the deterministic testing plugin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/env_guard.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

class ModuleTest : public testing::ScaleReluOnTesting {
 protected:
  std::vector<float> run() {
    auto out = model_->run({{"x", x_}});
    const Tensor& y = out.at("y");
    return {y.data_as<float>(), y.data_as<float>() + y.numel()};
  }

  const Tensor x_ = Tensor::random(DType::f32, {16}, 42);
};

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST_F(ModuleTest, NoContextBeforeFirstExecuteThenExactlyOne) {
  EXPECT_EQ(module_->stats().contexts_created, 0u);
  run();
  EXPECT_EQ(module_->stats().contexts_created, 1u);
  run();
  run();
  EXPECT_EQ(module_->stats().contexts_created, 1u);
  EXPECT_EQ(module_->stats().executes, 3u);
  EXPECT_EQ(module_->stats().plugin_counters.at("executes"), 3u);
}

TEST_F(ModuleTest, SettingsChangeOnlyInvalidatesAndIdenticalSettingsChangeNothing) {
  run();
  RuntimeSettings same = module_->runtime_settings();
  module_->set_runtime_settings(same);
  run();
  EXPECT_EQ(module_->stats().contexts_created, 1u) << "identical settings recreated the context";

  module_->set_runtime_settings(same.merge({{"kernel_specialization", "eager"}}));
  EXPECT_EQ(module_->stats().contexts_created, 1u) << "a settings change must not rebuild eagerly";
  EXPECT_TRUE(module_->stats().plugin_counters.empty()) << "the old context was not dropped";
  run();
  EXPECT_EQ(module_->stats().contexts_created, 2u);
  EXPECT_EQ(module_->runtime_settings().kernel_specialization, KernelSpecialization::eager);
}

TEST_F(ModuleTest, ComputesTheGraph) {
  const auto y = run();
  const float* x = x_.data_as<float>();
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(y[i], std::max(0.0f, 2.0f * x[i])) << i;
}

TEST_F(ModuleTest, BindingMismatchNamesModuleAndBinding) {
  auto expect_error = [&](const Tensor& x, const std::string& what) {
    try {
      module_->execute({x});
      FAIL() << "expected InputError";
    } catch (const InputError& e) {
      EXPECT_THAT(std::string(e.what()),
                  AllOf(HasSubstr(module_->name()), HasSubstr("'x'"), HasSubstr(what)));
    }
  };
  expect_error(Tensor::random(DType::f32, {15}, 1), "[15]");
  expect_error(Tensor::random(DType::f16, {16}, 1), "dtype f16");
  expect_error(Tensor::random(DType::f32, {4, 4}, 1), "rank");
  EXPECT_THROW(module_->execute({}), InputError);
  EXPECT_THROW(model_->run({{"z", x_}}), InputError);
}

TEST_F(ModuleTest, PluginFailureCarriesThePluginsMessage) {
  testing::EnvGuard fail("RTSCOPE_TESTING_CONFIG", "fail_execute=simulated execute failure");
  try {
    run();
    FAIL() << "expected PluginError";
  } catch (const PluginError& e) {
    EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr("testing"), HasSubstr(module_->name()),
                                             HasSubstr("simulated execute failure")));
  }
}

TEST_F(ModuleTest, ContextCreationFailureLeavesModuleUsable) {
  {
    testing::EnvGuard fail("RTSCOPE_TESTING_CONFIG", "fail_create_context=no context today");
    EXPECT_THROW(run(), PluginError);
  }
  EXPECT_EQ(module_->stats().contexts_created, 0u);
  run();
  EXPECT_EQ(module_->stats().contexts_created, 1u);
}

TEST(ModuleLifetime, ModuleOutlivesItsRegistry) {
  std::unique_ptr<Model> model;
  {
    PluginRegistry registry;
    registry.load({.name = "testing"});
    model = Model::build(testing::scale_relu_graph(), registry, {.backends = {"testing"}});
  }
  auto out = model->run({{"x", Tensor::random(DType::f32, {16}, 3)}});
  EXPECT_EQ(out.at("y").numel(), 16);
}

}  // namespace
}  // namespace rtscope
