// Fixtures of the host tests: registries with the bundled plugins that run
// on any machine loaded, and models built on them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope::testing {

// A registry holding the testing and cpu plugins: the pair the host tests
// partition graphs across on machines without a GPU (testing takes the
// elementwise ops, cpu the rest).
class TestingAndCpu : public ::testing::Test {
 protected:
  // Derived fixtures that build a model call this first.
  void SetUp() override {
    testing_ = registry_.load({.name = "testing"});
    registry_.load({.name = "cpu"});
  }

  PluginRegistry registry_;
  std::shared_ptr<Plugin> testing_;
};

// The testing plugin alone, with scale_relu_graph() built on it: one
// module, `module_`.
class ScaleReluOnTesting : public ::testing::Test {
 protected:
  // Derived fixtures call this first.
  void SetUp() override {
    registry_.load({.name = "testing"});
    model_ = Model::build(scale_relu_graph(), registry_, {.backends = {"testing"}});
    ASSERT_EQ(model_->modules().size(), 1u);
    module_ = model_->modules()[0];
  }

  PluginRegistry registry_;
  std::unique_ptr<Model> model_;
  Module* module_ = nullptr;  // owned by model_
};

// A counter that the plugin of `model`'s first module reports.
inline uint64_t plugin_counter(const Model& model, const std::string& name) {
  return model.modules()[0]->stats().plugin_counters.at(name);
}

// One run of a model of scale_relu_graph(elements) on seeded input.
inline void run_scale_relu(Model& model, int64_t elements = 16) {
  model.run({{"x", Tensor::random(DType::f32, {elements}, 7)}});
}

}  // namespace rtscope::testing
