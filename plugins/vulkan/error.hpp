// The exception type the Vulkan plugin uses internally (rtscope/kit/error.hpp)
// and VkResult checking. The kit's trampolines (plugin_entry.cpp) turn Error into an
// rts_status plus one message for the host's error sink; nothing thrown here
// ever crosses the C boundary.
#pragma once

#include <vulkan/vulkan.h>

#include <string>

#include "kit_names.hpp"
#include "rtscope/kit/error.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

// A zero-initialized Vulkan struct with its sType set.
template <typename T>
T vk_struct(VkStructureType type) {
  T value{};
  value.sType = type;
  return value;
}

// "VK_ERROR_OUT_OF_DEVICE_MEMORY"
const char* vk_result_name(VkResult result);

// Throws unless `result` is VK_SUCCESS, naming the call: out-of-memory
// results become RTS_ERROR_OUT_OF_MEMORY, everything else RTS_ERROR_DEVICE.
void check_vk(VkResult result, const char* call);
void check_vk(VkResult result, const std::string& call);

}  // namespace rtscope::vulkan
