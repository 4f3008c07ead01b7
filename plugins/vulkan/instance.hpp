// The plugin's VkInstance: API version negotiation with the loader, the
// optional Khronos validation layer (RTSCOPE_VULKAN_VALIDATION=1) and the
// debug messenger that routes its messages to the host log. No surface
// extensions: the plugin only computes.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

using LogFn = std::function<void(rts_log_level, const std::string&)>;

class Instance {
 public:
  // `validation_errors` counts validation-layer errors for the plugin's
  // lifetime; it and `log` must outlive the instance. Throws Error whose
  // message starts with "no Vulkan device:" when no Vulkan driver can be
  // used at all (no loader support for 1.1, no ICD).
  Instance(LogFn log, bool validation, std::atomic<uint64_t>& validation_errors);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  uint32_t api_version() const { return api_version_; }
  // True when the validation layer was requested and is active.
  bool validation_enabled() const { return validation_enabled_; }
  std::vector<VkPhysicalDevice> physical_devices() const;

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                   VkDebugUtilsMessageTypeFlagsEXT types,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                   void* user);

  LogFn log_;
  std::atomic<uint64_t>& validation_errors_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  uint32_t api_version_ = VK_API_VERSION_1_1;
  bool validation_enabled_ = false;
};

}  // namespace rtscope::vulkan
