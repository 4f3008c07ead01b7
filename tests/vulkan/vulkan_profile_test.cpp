// RTSCOPE_VULKAN_PROFILE: a context times each batch of dispatches between
// barriers on the device and logs, when destroyed, where the time went,
// labelled by the pipelines each batch ran.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/env_guard.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// s = a + b and p = a * b are independent (one batch); y = s + p waits for
// both (a second batch after a barrier).
Graph two_batch_graph() {
  Graph g;
  g.name = "profiled";
  g.loc = {"test:profiled", 0, 0};
  SymShape shape = {Dim::fixed(64), Dim::fixed(32)};
  g.inputs.push_back({"a", {DType::f32, shape}, g.loc});
  g.inputs.push_back({"b", {DType::f32, shape}, g.loc});
  g.nodes.push_back(Node{"sum", "add", {"a", "b"}, {"s"}, {}, g.loc});
  g.nodes.push_back(Node{"product", "mul", {"a", "b"}, {"p"}, {}, g.loc});
  g.nodes.push_back(Node{"total", "add", {"s", "p"}, {"y"}, {}, g.loc});
  g.outputs = {"y"};
  validate(g);
  return g;
}

// Runs the graph three times on a plugin loaded by the caller (with
// RTSCOPE_VULKAN_PROFILE set or not) and returns what was logged.
std::string run_three_times(PluginRegistry& registry) {
  const std::map<std::string, Tensor> inputs = {{"a", Tensor::random(DType::f32, {64, 32}, 3)},
                                                {"b", Tensor::random(DType::f32, {64, 32}, 4)}};
  std::map<std::string, reference::RefTensor> ref_inputs;
  for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
  std::map<std::string, reference::RefTensor> states;
  ::testing::internal::CaptureStderr();
  {
    auto model = Model::build(two_batch_graph(), registry, {.backends = {"vulkan"}});
    const auto expected = reference::run_graph(model->graph(), ref_inputs, states);
    for (int run = 0; run < 3; ++run) {
      // Timestamps do not change what runs.
      EXPECT_LE(reference::closeness(model->run(inputs).at("y"), expected.at("y"), 1e-6, 1e-6),
                1.0);
    }
  }  // the context logs its profile when destroyed
  return ::testing::internal::GetCapturedStderr();
}

TEST(VulkanProfile, LogsDeviceTimePerBarrierBatchWhenTheContextEnds) {
  const testing::EnvGuard info_level("RTSCOPE_LOG_LEVEL", "info");
  const testing::EnvGuard profiling("RTSCOPE_VULKAN_PROFILE", "1");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const std::string log = run_three_times(registry);
  EXPECT_THAT(log, HasSubstr("engine 'profiled@vulkan' device profile (RTSCOPE_VULKAN_PROFILE)"));
  EXPECT_THAT(log, HasSubstr("of device time per execute over 3 executes"));
  // Three dispatches; barriers after the staging copies in, between the
  // two batches and before the copies out.
  EXPECT_THAT(log, HasSubstr("; 3.0 dispatches and 3.0 barriers per execute")) << log;
  // The independent add and mul share a batch; the final add is its own.
  EXPECT_THAT(log, HasSubstr("binary_f32 x2\n")) << log;
  EXPECT_THAT(log, HasSubstr("  binary_f32\n")) << log;
}

TEST(VulkanProfile, IsOffByDefault) {
  const testing::EnvGuard info_level("RTSCOPE_LOG_LEVEL", "info");
  const testing::EnvGuard profiling("RTSCOPE_VULKAN_PROFILE", "");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  EXPECT_THAT(run_three_times(registry), Not(HasSubstr("device profile")));
}

}  // namespace
}  // namespace rtscope::vulkan_testing
