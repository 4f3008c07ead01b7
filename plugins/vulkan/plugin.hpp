// The Vulkan plugin instance behind rts_plugin: host services, the
// VkInstance, the physical devices it exposes, and their logical devices,
// opened on first use. What is zero-copy and what is staged: README.md,
// "Residency".
#pragma once

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "device.hpp"
#include "instance.hpp"
#include "physical_device.hpp"
#include "rtscope/kit/backend.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

class VulkanPlugin : public kit::Backend {
 public:
  // The id, version and engine blob magic ("RTSVKEB1") of the plugin.
  static constexpr kit::EngineBlobFormat kFormat = {
      "vulkan", {'R', 'T', 'S', 'V', 'K', 'E', 'B', '1'}, 2, "0.1.0"};
  // device_alloc/free/copy hand out this plugin's device memory.
  static constexpr bool kDeviceMemory = true;

  // `host` may be NULL (then nothing is logged); it stays valid until the
  // plugin is destroyed. Reads RTSCOPE_VULKAN_VALIDATION, _DEVICE,
  // _F16_STORAGE and _PROFILE. Throws Error starting "no Vulkan device:" when there is
  // no usable device.
  VulkanPlugin(const rts_host_api* host, uint32_t abi_minor);
  // Every engine and context must be destroyed first.
  ~VulkanPlugin() override;

  uint32_t device_count() const override { return static_cast<uint32_t>(physical_.size()); }
  const rts_device_info& device_info(uint32_t device) const override {
    return physical(device).info;
  }
  rts_support query_node(uint32_t device, const kit::NodeDesc& node, const rts_value* inputs,
                         const rts_value* outputs) override;
  std::unique_ptr<kit::Engine> build_engine(uint32_t device, kit::GraphDesc graph) override;
  void* device_alloc(uint32_t device, uint64_t size) override;
  void device_free(uint32_t device, void* ptr) override;
  void device_copy(uint32_t device, void* device_ptr, void* host_ptr, uint64_t size,
                   bool to_device) override;

  // Throws Error naming the valid range for a bad index.
  const PhysicalDevice& physical(uint32_t device) const;
  // The logical device, created on first call; the default one (0) is
  // already being opened on a thread since the plugin loaded, unless
  // RTSCOPE_VULKAN_EAGER_DEVICE=0. Thread-safe.
  Device& device(uint32_t device);

  uint64_t validation_errors() const { return validation_errors_.load(std::memory_order_relaxed); }
  bool validation_enabled() const { return instance_->validation_enabled(); }
  // RTSCOPE_VULKAN_PROFILE: contexts time every barrier batch on the
  // device and log where the time went when destroyed.
  bool profiling() const { return profiling_; }
  // Start-up costs of the plugin itself (inside the host's plugin load):
  // creating the VkInstance and listing the physical devices.
  uint64_t instance_create_ns() const { return instance_create_ns_; }
  uint64_t devices_list_ns() const { return devices_list_ns_; }
  // How long the first device(0) waited for the default device opened at
  // load (0 when it was ready, or opened on first use).
  uint64_t device_wait_ns() const { return device_wait_ns_.load(std::memory_order_relaxed); }

 private:
  bool profiling_ = false;
  uint64_t instance_create_ns_ = 0;
  uint64_t devices_list_ns_ = 0;
  std::atomic<uint64_t> validation_errors_{0};
  std::unique_ptr<Instance> instance_;
  std::vector<PhysicalDevice> physical_;
  std::mutex devices_mutex_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::future<std::unique_ptr<Device>> opening_default_;  // under devices_mutex_
  std::atomic<uint64_t> device_wait_ns_{0};
};

}  // namespace rtscope::vulkan
