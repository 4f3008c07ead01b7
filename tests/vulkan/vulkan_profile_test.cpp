// RTSCOPE_VULKAN_PROFILE: a context times each batch of dispatches between
// barriers on the device and logs, when destroyed, where the time went,
// labelled by the pipelines each batch ran and the bytes they bind, with
// the final barrier to the host and the host's time around the submit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// s = a + b and p = a * b are independent (one batch); y = s + p waits for
// both (a second batch after a barrier).
Graph two_batch_graph() {
  return testing::GraphBuilder("profiled")
      .input("a", DType::f32, {512, 256})
      .input("b", DType::f32, {512, 256})
      .node("sum", "add", {"a", "b"}, "s")
      .node("product", "mul", {"a", "b"}, "p")
      .node("total", "add", {"s", "p"}, "y")
      .outputs({"y"})
      .build();
}

// Runs the graph three times on a plugin loaded by the caller (with
// RTSCOPE_VULKAN_PROFILE set or not) and returns what was logged.
std::string run_three_times(PluginRegistry& registry) {
  const std::map<std::string, Tensor> inputs = {{"a", Tensor::random(DType::f32, {512, 256}, 3)},
                                                {"b", Tensor::random(DType::f32, {512, 256}, 4)}};
  ::testing::internal::CaptureStderr();
  {
    auto model = Model::build(two_batch_graph(), registry, {.backends = {"vulkan"}});
    const auto expected = testing::reference_outputs(model->graph(), inputs);
    for (int run = 0; run < 3; ++run) {
      // Timestamps do not change what runs.
      EXPECT_LE(reference::closeness(model->run(inputs).at("y"), expected.at("y"), 1e-6, 1e-6),
                1.0);
    }
  }  // the context logs its profile when destroyed
  return ::testing::internal::GetCapturedStderr();
}

// The table's row whose label is `label` (the rest of the line after the
// numbers), or "" if none.
std::string row_of(const std::string& log, const std::string& label) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > label.size() && line.ends_with("  " + label)) return line;
  }
  return {};
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
  // Each row gives the bytes its batch binds, 512 KB a tensor: a, b, s
  // and p for the pair, s, p and y for the final add.
  EXPECT_THAT(row_of(log, "binary_f32 x2"), HasSubstr("  2.10  ")) << log;
  EXPECT_THAT(row_of(log, "binary_f32"), HasSubstr("  1.57  ")) << log;
  // The barrier that hands the results to the host is a span of its own.
  EXPECT_NE(row_of(log, "(final barrier to the host)"), "") << log;
  EXPECT_THAT(log, HasSubstr("; host time per execute over the 2 that reused their plan: ")) << log;
  EXPECT_THAT(log, HasSubstr(" in vkQueueSubmit, ")) << log;
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
