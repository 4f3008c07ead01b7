// Loading the Vulkan plugin in tests. Every test runs with the Khronos
// validation layer (RTSCOPE_VULKAN_VALIDATION=1) and checks the plugin's
// validation_errors counter. A test is skipped only when the plugin fails
// to load because the machine has no Vulkan device at all; any other load
// failure is a test failure.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"

namespace rtscope::vulkan_testing {

// The phrase the plugin's init error starts with when no device exists.
inline constexpr const char* kNoDevice = "no Vulkan device";

struct LoadResult {
  std::shared_ptr<Plugin> plugin;
  std::string skip_reason;  // set when the machine has no Vulkan device
  std::string failure;      // set on any other load failure
};

// Loads the vulkan plugin (and cpu, for mixed models) into `registry`.
inline LoadResult load_vulkan(PluginRegistry& registry) {
  LoadResult result;
  setenv("RTSCOPE_VULKAN_VALIDATION", "1", 1);
  try {
    PluginSpec spec;
    spec.name = "vulkan";
    result.plugin = registry.load(spec);
  } catch (const std::exception& error) {
    const std::string message = error.what();
    if (message.find(kNoDevice) != std::string::npos) {
      result.skip_reason = "skipping: the Vulkan plugin found no Vulkan device: " + message;
    } else {
      result.failure = message;
    }
  }
  return result;
}

// In a test body: skips or fails unless `result` (a LoadResult) loaded.
#define RTSCOPE_CHECK_VULKAN_LOAD(result)                                                        \
  do {                                                                                           \
    const ::rtscope::vulkan_testing::LoadResult& load_ = (result);                               \
    if (!load_.skip_reason.empty()) GTEST_SKIP() << load_.skip_reason;                           \
    ASSERT_TRUE(load_.failure.empty()) << "loading the vulkan plugin failed: " << load_.failure; \
  } while (0)

// In a test body: loads the plugin into `registry` or skips / fails.
#define RTSCOPE_LOAD_VULKAN_OR_SKIP(registry) \
  RTSCOPE_CHECK_VULKAN_LOAD(::rtscope::vulkan_testing::load_vulkan(registry))

// A registry with the vulkan plugin loaded before each test (skipped on a
// machine without a Vulkan device), and models built on it alone.
class VulkanTest : public ::testing::Test {
 protected:
  void SetUp() override { RTSCOPE_LOAD_VULKAN_OR_SKIP(registry_); }

  std::unique_ptr<Model> build(Graph graph) {
    return Model::build(std::move(graph), registry_, {.backends = {"vulkan"}});
  }

  PluginRegistry registry_;
};

// VulkanTest for TEST_P suites whose parameter is a `Case`.
template <class Case>
class VulkanCaseTest : public VulkanTest, public ::testing::WithParamInterface<Case> {};

inline uint64_t counter(const Module& module, const std::string& name) {
  const auto counters = module.stats().plugin_counters;
  const auto found = counters.find(name);
  return found == counters.end() ? 0 : found->second;
}

// Validation errors seen by the plugin so far (plugin-wide), through any
// module of the model that has a context.
inline void expect_no_validation_errors(const Model& model) {
  for (const Module* module : model.modules()) {
    const auto counters = module->stats().plugin_counters;
    const auto found = counters.find("validation_errors");
    if (found == counters.end()) continue;
    EXPECT_EQ(found->second, 0u) << "module '" << module->name()
                                 << "': the validation layer reported errors (see the log)";
  }
}

}  // namespace rtscope::vulkan_testing
