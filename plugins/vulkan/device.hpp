// A logical device: the queue every context submits to, the memory
// allocators, the descriptor and pipeline layouts every pipeline shares,
// and a one-shot command path for uploads. Created on first use of a
// physical device (build_engine), so listing devices costs nothing.
#pragma once

#include <vulkan/vulkan.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "allocator.hpp"
#include "device_tensors.hpp"
#include "instance.hpp"
#include "physical_device.hpp"
#include "pipeline_statistics.hpp"
#include "shared_constants.hpp"
#include "upload.hpp"

namespace rtscope::vulkan {

class Device {
 public:
  Device(const PhysicalDevice& physical, LogFn log);
  // Waits for the device to go idle. Every engine and context using the
  // device must be gone.
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  VkDevice handle() const { return device_; }
  const PhysicalDevice& physical() const { return physical_; }
  const DeviceCaps& caps() const { return physical_.caps; }
  const std::string& fingerprint() const { return physical_.fingerprint; }
  void log(rts_log_level level, const std::string& message) const { log_(level, message); }
  // The extension's queries where caps().pipeline_statistics holds
  // (RTSCOPE_VULKAN_PIPELINE_STATS), else null entry points.
  const PipelineStatisticsQueries& statistics_queries() const { return statistics_queries_; }

  // Device-local memory for constants and intermediates.
  BlockAllocator& device_memory() { return *device_memory_; }
  // Host-visible, coherent, persistently mapped memory for staging.
  BlockAllocator& staging_memory() { return *staging_memory_; }
  // Device-local memory the host maps (resizable BAR, unified memory), for
  // constants the upload writes in place; nullptr when the device has none
  // or the upload options say staged (upload.hpp).
  BlockAllocator* direct_memory() { return direct_memory_.get(); }
  const UploadOptions& upload_options() const { return upload_options_; }
  // Wall time of the constructor (vkCreateDevice, layouts, allocators).
  uint64_t create_ns() const { return create_ns_; }
  // Tensors the host keeps on this device (device_alloc).
  DeviceTensors& tensors() { return *tensors_; }
  // Device copies of constants that engines share (shared_constants.hpp).
  ConstantPool& constants() { return constants_; }

  VkDescriptorSetLayout set_layout() const { return set_layout_; }
  VkPipelineLayout pipeline_layout() const { return pipeline_layout_; }

  // Submits `commands` to the queue, signalling `fence`. The queue is
  // externally synchronized in Vulkan; this serializes submits of every
  // context. Thread-safe.
  void submit(VkCommandBuffer commands, VkFence fence);

  // Waits for `fence`, first polling vkGetFenceStatus for `spin` (a wake-up
  // from vkWaitForFences costs tens of microseconds), then blocking. Throws
  // on device loss or a wait beyond `timeout`.
  void wait(VkFence fence, std::chrono::microseconds spin,
            std::chrono::seconds timeout = std::chrono::seconds(120)) const;

  // Records through `record` into a one-shot command buffer, submits it and
  // waits. For uploads at engine build; serialized. Thread-safe.
  void run_one_shot(const std::function<void(VkCommandBuffer)>& record);

 private:
  void create_layouts();
  void create_direct_memory(const BlockAllocator::Options& device_options);
  // Destroys everything created so far; the destructor and a failing
  // constructor share it.
  void release();

  const PhysicalDevice& physical_;
  LogFn log_;
  PipelineStatisticsQueries statistics_queries_;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  std::mutex queue_mutex_;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
  std::unique_ptr<BlockAllocator> device_memory_;
  std::unique_ptr<BlockAllocator> staging_memory_;
  std::unique_ptr<BlockAllocator> direct_memory_;
  UploadOptions upload_options_;
  uint64_t create_ns_ = 0;
  std::unique_ptr<DeviceTensors> tensors_;  // released before the allocators
  ConstantPool constants_;                  // weak references only: engines own the copies

  std::mutex one_shot_mutex_;
  VkCommandPool one_shot_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer one_shot_buffer_ = VK_NULL_HANDLE;
  VkFence one_shot_fence_ = VK_NULL_HANDLE;
};

}  // namespace rtscope::vulkan
