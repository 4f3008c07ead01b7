// RTSCOPE_VULKAN_PIPELINE_STATS: the log lines made of a driver's
// pipeline statistics (on a stand-in driver's answers), and the plugin
// with the variable set on this machine's device.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "pipeline_statistics.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using vulkan::describe_pipeline_executables;
using vulkan::format_statistic;
using vulkan::PipelineStatisticsQueries;

VkPipelineExecutableStatisticKHR statistic(const char* name,
                                           VkPipelineExecutableStatisticFormatKHR format) {
  VkPipelineExecutableStatisticKHR result{};
  result.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
  std::strncpy(result.name, name, VK_MAX_DESCRIPTION_SIZE - 1);
  result.format = format;
  return result;
}

TEST(PipelineStatistics, FormatsEachKindOfValue) {
  auto registers = statistic("Register Count", VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR);
  registers.value.u64 = 96;
  EXPECT_EQ(format_statistic(registers), "Register Count 96");
  auto delta = statistic("Delta", VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR);
  delta.value.i64 = -3;
  EXPECT_EQ(format_statistic(delta), "Delta -3");
  auto spills = statistic("Spills", VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR);
  spills.value.b32 = VK_FALSE;
  EXPECT_EQ(format_statistic(spills), "Spills no");
  auto occupancy = statistic("Occupancy", VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR);
  occupancy.value.f64 = 0.123456;
  EXPECT_EQ(format_statistic(occupancy), "Occupancy 0.1235");
  auto unknown =
      statistic("Later", static_cast<VkPipelineExecutableStatisticFormatKHR>(0x7fff0000));
  EXPECT_EQ(format_statistic(unknown), "Later (a format this plugin does not know)");
}

TEST(PipelineStatistics, ReadsANameThatFillsItsArrayOnlyUpToItsSize) {
  auto full = statistic("", VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR);
  std::memset(full.name, 'x', sizeof(full.name));  // no terminating zero
  full.value.u64 = 1;
  EXPECT_EQ(format_statistic(full), std::string(VK_MAX_DESCRIPTION_SIZE, 'x') + " 1");
}

// A stand-in driver: one executable with two statistics, or as the test
// sets it.
struct FakeDriver {
  static inline uint32_t executables = 1;
  static inline uint32_t statistics = 2;
  static inline VkResult statistics_result = VK_SUCCESS;

  static VkResult VKAPI_CALL properties(VkDevice, const VkPipelineInfoKHR*, uint32_t* count,
                                        VkPipelineExecutablePropertiesKHR* out) {
    if (out == nullptr) {
      *count = executables;
      return VK_SUCCESS;
    }
    for (uint32_t i = 0; i < *count; ++i) {
      std::strncpy(out[i].name, "Compute Shader", VK_MAX_DESCRIPTION_SIZE - 1);
      out[i].subgroupSize = 32;
    }
    return VK_SUCCESS;
  }

  static VkResult VKAPI_CALL statistics_of(VkDevice, const VkPipelineExecutableInfoKHR*,
                                           uint32_t* count, VkPipelineExecutableStatisticKHR* out) {
    if (statistics_result != VK_SUCCESS) return statistics_result;
    if (out == nullptr) {
      *count = statistics;
      return VK_SUCCESS;
    }
    for (uint32_t i = 0; i < *count; ++i) {
      std::strncpy(out[i].name, i == 0 ? "Register Count" : "Shared Memory Size",
                   VK_MAX_DESCRIPTION_SIZE - 1);
      out[i].format = VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR;
      out[i].value.u64 = i == 0 ? 96 : 4096;
    }
    return VK_SUCCESS;
  }

  FakeDriver() {
    executables = 1;
    statistics = 2;
    statistics_result = VK_SUCCESS;
  }
  PipelineStatisticsQueries queries() const { return {&properties, &statistics_of}; }
};

TEST(PipelineStatistics, GivesALinePerExecutableWithEveryStatistic) {
  const FakeDriver driver;
  EXPECT_THAT(describe_pipeline_executables(VK_NULL_HANDLE, VK_NULL_HANDLE, driver.queries(),
                                            "'matvec_t_f16' specialized to [8 2048 2048 9]"),
              ElementsAre("vulkan: pipeline 'matvec_t_f16' specialized to [8 2048 2048 9], "
                          "executable 'Compute Shader' (subgroup size 32): Register Count 96, "
                          "Shared Memory Size 4096"));
}

TEST(PipelineStatistics, BoundsWhatADriverReports) {
  const FakeDriver driver;
  FakeDriver::executables = 1000;
  FakeDriver::statistics = 100000;
  const auto lines =
      describe_pipeline_executables(VK_NULL_HANDLE, VK_NULL_HANDLE, driver.queries(), "'p'");
  ASSERT_EQ(lines.size(), 16u);  // kMaxExecutables
  // 64 statistics (kMaxStatistics): the register count, then 63 more.
  size_t statistics = 0;
  for (size_t at = lines[0].find(" 4096"); at != std::string::npos;
       at = lines[0].find(" 4096", at + 1)) {
    ++statistics;
  }
  EXPECT_EQ(statistics, 63u) << lines[0];
  EXPECT_THAT(lines[0], HasSubstr("): Register Count 96, Shared Memory Size 4096"));
}

TEST(PipelineStatistics, SaysWhichQueryFailedAndWithWhat) {
  const FakeDriver driver;
  FakeDriver::statistics_result = VK_ERROR_OUT_OF_HOST_MEMORY;
  EXPECT_THAT(
      describe_pipeline_executables(VK_NULL_HANDLE, VK_NULL_HANDLE, driver.queries(), "'p'"),
      ElementsAre("vulkan: pipeline 'p', executable 'Compute Shader' (subgroup size 32): "
                  "vkGetPipelineExecutableStatisticsKHR failed: VK_ERROR_OUT_OF_HOST_MEMORY"));
  EXPECT_THAT(describe_pipeline_executables(VK_NULL_HANDLE, VK_NULL_HANDLE, {}, "'p'"),
              ElementsAre("vulkan: pipeline 'p': no statistics (the driver gave no entry points "
                          "for them)"));
}

// With the variable set the device line says whether the driver reports
// statistics; where it does, every created pipeline gets its line, and
// either way the model computes what the reference does.
TEST(VulkanPipelineStatistics, LogsThemWhereTheDriverHasThemAndSaysSoWhereNot) {
  const testing::EnvGuard info_level("RTSCOPE_LOG_LEVEL", "info");
  const testing::EnvGuard statistics("RTSCOPE_VULKAN_PIPELINE_STATS", "1");
  const Graph graph = testing::GraphBuilder("stats")
                          .input("a", DType::f32, {64, 32})
                          .input("b", DType::f32, {64, 32})
                          .node("sum", "add", {"a", "b"}, "y")
                          .outputs({"y"})
                          .build();
  const std::map<std::string, Tensor> inputs = {{"a", Tensor::random(DType::f32, {64, 32}, 5)},
                                                {"b", Tensor::random(DType::f32, {64, 32}, 6)}};
  ::testing::internal::CaptureStderr();
  std::string log;
  {
    PluginRegistry registry;
    const LoadResult load = load_vulkan(registry);
    if (!load.skip_reason.empty()) {
      ::testing::internal::GetCapturedStderr();
      GTEST_SKIP() << load.skip_reason;
    }
    if (!load.failure.empty()) {
      log = ::testing::internal::GetCapturedStderr();
      FAIL() << "loading the vulkan plugin failed: " << load.failure;
    }
    auto model = Model::build(graph, registry, {.backends = {"vulkan"}});
    const auto expected = testing::reference_outputs(model->graph(), inputs);
    EXPECT_LE(reference::closeness(model->run(inputs).at("y"), expected.at("y"), 1e-6, 1e-6), 1.0);
    log = ::testing::internal::GetCapturedStderr();
  }
  if (log.find("pipeline statistics: yes") != std::string::npos) {
    EXPECT_THAT(log, HasSubstr("vulkan: pipeline 'binary"));
    EXPECT_THAT(log, HasSubstr("executable '"));
    EXPECT_THAT(log, Not(HasSubstr("failed")));
  } else {
    EXPECT_THAT(log, HasSubstr("pipeline statistics: no (the driver lacks "
                               "VK_KHR_pipeline_executable_properties)"))
        << log;
    EXPECT_THAT(log, Not(HasSubstr("vulkan: pipeline '")));
  }
}

}  // namespace
}  // namespace rtscope::vulkan_testing
