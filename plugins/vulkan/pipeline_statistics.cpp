#include "pipeline_statistics.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "error.hpp"

namespace rtscope::vulkan {
namespace {

// Bounds on what a driver may report, so that a broken one cannot make
// the log line unbounded.
constexpr uint32_t kMaxExecutables = 16;
constexpr uint32_t kMaxStatistics = 64;

std::string_view fixed_string(const char (&text)[VK_MAX_DESCRIPTION_SIZE]) {
  return {text, strnlen(text, VK_MAX_DESCRIPTION_SIZE)};
}

}  // namespace

std::string format_statistic(const VkPipelineExecutableStatisticKHR& statistic) {
  std::string text(fixed_string(statistic.name));
  text += ' ';
  char number[32];
  switch (statistic.format) {
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
      text += statistic.value.b32 == VK_TRUE ? "yes" : "no";
      break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
      std::snprintf(number, sizeof(number), "%" PRId64, statistic.value.i64);
      text += number;
      break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
      std::snprintf(number, sizeof(number), "%" PRIu64, statistic.value.u64);
      text += number;
      break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR:
      std::snprintf(number, sizeof(number), "%.4g", statistic.value.f64);
      text += number;
      break;
    default:
      text += "(a format this plugin does not know)";
      break;
  }
  return text;
}

std::vector<std::string> describe_pipeline_executables(VkDevice device, VkPipeline pipeline,
                                                       const PipelineStatisticsQueries& queries,
                                                       std::string_view label) {
  const std::string head = str_cat("vulkan: pipeline ", label);
  if (queries.properties == nullptr || queries.statistics == nullptr) {
    return {str_cat(head, ": no statistics (the driver gave no entry points for them)")};
  }
  auto pipeline_info = vk_struct<VkPipelineInfoKHR>(VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR);
  pipeline_info.pipeline = pipeline;
  uint32_t count = 0;
  VkResult result = queries.properties(device, &pipeline_info, &count, nullptr);
  if (result != VK_SUCCESS) {
    return {
        str_cat(head, ": vkGetPipelineExecutablePropertiesKHR failed: ", vk_result_name(result))};
  }
  count = std::min(count, kMaxExecutables);
  std::vector<VkPipelineExecutablePropertiesKHR> executables(
      count, vk_struct<VkPipelineExecutablePropertiesKHR>(
                 VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR));
  result = queries.properties(device, &pipeline_info, &count, executables.data());
  if (result != VK_SUCCESS && result != VK_INCOMPLETE) {
    return {
        str_cat(head, ": vkGetPipelineExecutablePropertiesKHR failed: ", vk_result_name(result))};
  }
  std::vector<std::string> lines;
  for (uint32_t index = 0; index < count; ++index) {
    std::string line = str_cat(head, ", executable '", fixed_string(executables[index].name),
                               "' (subgroup size ", executables[index].subgroupSize, ")");
    auto executable_info =
        vk_struct<VkPipelineExecutableInfoKHR>(VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR);
    executable_info.pipeline = pipeline;
    executable_info.executableIndex = index;
    uint32_t statistic_count = 0;
    result = queries.statistics(device, &executable_info, &statistic_count, nullptr);
    statistic_count = std::min(statistic_count, kMaxStatistics);
    std::vector<VkPipelineExecutableStatisticKHR> statistics(
        statistic_count, vk_struct<VkPipelineExecutableStatisticKHR>(
                             VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR));
    if (result == VK_SUCCESS) {
      result = queries.statistics(device, &executable_info, &statistic_count, statistics.data());
    }
    if (result != VK_SUCCESS && result != VK_INCOMPLETE) {
      lines.push_back(
          str_cat(line, ": vkGetPipelineExecutableStatisticsKHR failed: ", vk_result_name(result)));
      continue;
    }
    line += ':';
    for (uint32_t i = 0; i < statistic_count; ++i) {
      line += str_cat(i == 0 ? " " : ", ", format_statistic(statistics[i]));
    }
    if (statistic_count == 0) line += " none reported";
    lines.push_back(std::move(line));
  }
  if (lines.empty()) lines.push_back(str_cat(head, ": the driver reported no executables"));
  return lines;
}

}  // namespace rtscope::vulkan
