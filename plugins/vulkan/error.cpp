#include "error.hpp"

namespace rtscope::vulkan {

const char* vk_result_name(VkResult result) {
  switch (result) {
#define RTSCOPE_VK_RESULT(name) \
  case name:                    \
    return #name;
    RTSCOPE_VK_RESULT(VK_SUCCESS)
    RTSCOPE_VK_RESULT(VK_NOT_READY)
    RTSCOPE_VK_RESULT(VK_TIMEOUT)
    RTSCOPE_VK_RESULT(VK_EVENT_SET)
    RTSCOPE_VK_RESULT(VK_EVENT_RESET)
    RTSCOPE_VK_RESULT(VK_INCOMPLETE)
    RTSCOPE_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    RTSCOPE_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    RTSCOPE_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    RTSCOPE_VK_RESULT(VK_ERROR_DEVICE_LOST)
    RTSCOPE_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    RTSCOPE_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    RTSCOPE_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    RTSCOPE_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    RTSCOPE_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    RTSCOPE_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    RTSCOPE_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    RTSCOPE_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
    RTSCOPE_VK_RESULT(VK_ERROR_UNKNOWN)
    RTSCOPE_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
    RTSCOPE_VK_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    RTSCOPE_VK_RESULT(VK_ERROR_FRAGMENTATION)
    RTSCOPE_VK_RESULT(VK_PIPELINE_COMPILE_REQUIRED)
#undef RTSCOPE_VK_RESULT
    default:
      return "VkResult(unknown)";
  }
}

void check_vk(VkResult result, const char* call) {
  if (result == VK_SUCCESS) return;
  const bool memory =
      result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY;
  fail(memory ? RTS_ERROR_OUT_OF_MEMORY : RTS_ERROR_DEVICE, "vulkan: ", call,
       " failed: ", vk_result_name(result), " (", static_cast<int>(result), ")");
}

void check_vk(VkResult result, const std::string& call) { check_vk(result, call.c_str()); }

}  // namespace rtscope::vulkan
