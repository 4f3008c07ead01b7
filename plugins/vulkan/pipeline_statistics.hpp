// RTSCOPE_VULKAN_PIPELINE_STATS=1: what the driver reports of each compute
// pipeline it compiles (VK_KHR_pipeline_executable_properties), logged at
// info level as the pipeline is created. A kernel bound by how many of its
// workgroups an SM holds at once is explained by its register count and
// shared memory, and for a Vulkan pipeline only the driver knows them: no
// vendor tool outside it reads the compiled shader of a SPIR-V module.
#pragma once

#include <vulkan/vulkan.h>

#include <string>
#include <string_view>
#include <vector>

namespace rtscope::vulkan {

// The extension's two queries, from vkGetDeviceProcAddr.
struct PipelineStatisticsQueries {
  PFN_vkGetPipelineExecutablePropertiesKHR properties = nullptr;
  PFN_vkGetPipelineExecutableStatisticsKHR statistics = nullptr;
};

// "Name value" of one statistic as the driver names it: a bool as yes/no,
// integers as they are, a float with 4 significant digits. The driver's
// fixed-size strings are read only up to their size.
std::string format_statistic(const VkPipelineExecutableStatisticKHR& statistic);

// One line per executable of `pipeline` (a compute pipeline has one):
// "vulkan: pipeline <label>, executable '<name>': Name value, Name value,
// ...". `pipeline` must have been created with
// VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR on a device with the
// extension's feature on. A query that fails gives a line saying which
// and with what result, not an error: the pipeline itself is fine.
std::vector<std::string> describe_pipeline_executables(VkDevice device, VkPipeline pipeline,
                                                       const PipelineStatisticsQueries& queries,
                                                       std::string_view label);

}  // namespace rtscope::vulkan
