#include "device.hpp"

#include <algorithm>
#include <vector>

#include "coop_matrix.hpp"
#include "error.hpp"
#include "rtscope/kit/elapsed.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {

Device::Device(const PhysicalDevice& physical, LogFn log)
    : physical_(physical),
      log_(std::move(log)),
      upload_options_(UploadOptions::from_environment()) {
  const auto start = std::chrono::steady_clock::now();
  const DeviceCaps& caps = physical_.caps;
  const float priority = 1.0f;
  auto queue_info = vk_struct<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
  queue_info.queueFamilyIndex = caps.queue_family;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;

  // Only what the shaders use: 16-bit storage for f16 tensors, 8-bit
  // storage for bool data movement.
  auto storage16 = vk_struct<VkPhysicalDevice16BitStorageFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
  storage16.storageBuffer16BitAccess = caps.storage_16bit ? VK_TRUE : VK_FALSE;
  auto storage8 = vk_struct<VkPhysicalDevice8BitStorageFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES);
  storage8.storageBuffer8BitAccess = VK_TRUE;
  if (caps.storage_8bit) storage16.pNext = &storage8;
  auto features =
      vk_struct<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  features.pNext = &storage16;

  std::vector<const char*> extensions;
  if (caps.storage_8bit_needs_extension) extensions.push_back(VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
  // The memory model with its device scope, as a pair (DeviceCaps).
  auto memory_model = vk_struct<VkPhysicalDeviceVulkanMemoryModelFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES);
  if (caps.memory_model) {
    memory_model.vulkanMemoryModel = VK_TRUE;
    memory_model.vulkanMemoryModelDeviceScope = caps.memory_model_device_scope ? VK_TRUE : VK_FALSE;
    memory_model.pNext = features.pNext;
    features.pNext = &memory_model;
  }
  CoopMatrixFeatures coop_matrix;
  if (caps.coop_matrix_f16) {
    coop_matrix.coop.cooperativeMatrix = VK_TRUE;
    coop_matrix.float16.shaderFloat16 = VK_TRUE;
    coop_matrix.link(&features.pNext);
    extensions.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  }
  // f16 products need shaderFloat16 too; the cooperative matrices' struct
  // enables it where they are on (a struct may appear once in the chain).
  auto float16 = vk_struct<VkPhysicalDeviceShaderFloat16Int8Features>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES);
  if (caps.f16_products && !caps.coop_matrix_f16) {
    float16.shaderFloat16 = VK_TRUE;
    float16.pNext = features.pNext;
    features.pNext = &float16;
  }

  auto executable = vk_struct<VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR);
  if (caps.pipeline_statistics) {
    executable.pipelineExecutableInfo = VK_TRUE;
    executable.pNext = features.pNext;
    features.pNext = &executable;
    extensions.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
  }

  auto info = vk_struct<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
  info.pNext = &features;
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queue_info;
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  check_vk(vkCreateDevice(physical_.handle, &info, nullptr, &device_),
           str_cat("vkCreateDevice ('", physical_.properties.deviceName, "')"));
  vkGetDeviceQueue(device_, caps.queue_family, 0, &queue_);
  if (caps.pipeline_statistics) {
    statistics_queries_.properties = reinterpret_cast<PFN_vkGetPipelineExecutablePropertiesKHR>(
        vkGetDeviceProcAddr(device_, "vkGetPipelineExecutablePropertiesKHR"));
    statistics_queries_.statistics = reinterpret_cast<PFN_vkGetPipelineExecutableStatisticsKHR>(
        vkGetDeviceProcAddr(device_, "vkGetPipelineExecutableStatisticsKHR"));
  }

  try {
    create_layouts();
    const VkDeviceSize alignment = std::max<VkDeviceSize>(256, caps.storage_offset_alignment);
    BlockAllocator::Options device_options;
    device_options.label = "device-local";
    device_options.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                           VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    device_options.required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    // On discrete GPUs the host-visible device-local type is the small BAR
    // window; keep it for whoever needs it.
    device_options.avoided = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    device_options.block_size = VkDeviceSize{64} << 20;
    device_options.alignment = alignment;
    device_options.max_allocation = caps.max_allocation;
    device_options.max_range = caps.max_storage_range;
    device_memory_ = std::make_unique<BlockAllocator>(device_, physical_.memory, device_options);

    BlockAllocator::Options staging_options;
    staging_options.label = "staging";
    // Storage: small host outputs are written there by their dispatch.
    staging_options.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                            VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    staging_options.required =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    // Cached memory makes reading results back fast.
    staging_options.preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    staging_options.avoided = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    staging_options.block_size = VkDeviceSize{16} << 20;
    staging_options.alignment = alignment;
    staging_options.max_allocation = caps.max_allocation;
    staging_options.map = true;
    staging_memory_ = std::make_unique<BlockAllocator>(device_, physical_.memory, staging_options);
    create_direct_memory(device_options);
    tensors_ = std::make_unique<DeviceTensors>(*this);

    auto pool_info = vk_struct<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pool_info.queueFamilyIndex = caps.queue_family;
    check_vk(vkCreateCommandPool(device_, &pool_info, nullptr, &one_shot_pool_),
             "vkCreateCommandPool (uploads)");
    auto buffer_info =
        vk_struct<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    buffer_info.commandPool = one_shot_pool_;
    buffer_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    buffer_info.commandBufferCount = 1;
    check_vk(vkAllocateCommandBuffers(device_, &buffer_info, &one_shot_buffer_),
             "vkAllocateCommandBuffers (uploads)");
    auto fence_info = vk_struct<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
    check_vk(vkCreateFence(device_, &fence_info, nullptr, &one_shot_fence_),
             "vkCreateFence (uploads)");
  } catch (...) {
    release();
    throw;
  }
  create_ns_ = kit::elapsed_ns(start);
  log_(RTS_LOG_INFO,
       str_cat("vulkan: opened '", physical_.properties.deviceName, "' (",
               device_type_name(physical_.properties.deviceType), ", Vulkan ",
               VK_API_VERSION_MAJOR(caps.api_version), ".", VK_API_VERSION_MINOR(caps.api_version),
               "; subgroup ", caps.subgroup_size, ", shared memory ", caps.max_shared_memory,
               " B, push constants ", caps.max_push_constants, " B, storage range ",
               caps.max_storage_range, " B; f16 ",
               caps.storage_16bit ? "stored as f16" : "stored as f32 (no 16-bit storage)",
               "; workgroups ", caps.linear_workgroup, "/", caps.rows_workgroup, "/", caps.tile_x,
               "x", caps.tile_y, "r", caps.tile_regs, " (matvec_t ", caps.matvec_workgroup,
               "); constants ",
               direct_memory_ ? "written in place (host-visible device memory)"
                              : "uploaded through staging",
               ")"));
}

void Device::create_direct_memory(const BlockAllocator::Options& device_options) {
  if (upload_options_.mode == UploadOptions::Mode::staged) return;
  BlockAllocator::Options options = device_options;
  options.label = "host-visible device-local";
  options.required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                     VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  options.avoided = 0;
  options.map = true;
  std::unique_ptr<BlockAllocator> allocator;
  try {
    allocator = std::make_unique<BlockAllocator>(device_, physical_.memory, options);
  } catch (const Error&) {
    return;  // no such memory type: constants are staged
  }
  const VkPhysicalDeviceMemoryProperties& memory = physical_.memory;
  VkDeviceSize largest_local = 0;
  for (uint32_t heap = 0; heap < memory.memoryHeapCount; ++heap) {
    if ((memory.memoryHeaps[heap].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0) {
      largest_local = std::max(largest_local, memory.memoryHeaps[heap].size);
    }
  }
  const VkDeviceSize mapped_heap =
      memory.memoryHeaps[memory.memoryTypes[allocator->memory_type()].heapIndex].size;
  // Without resizable BAR the mapped window is a few hundred MiB that
  // others need too; `direct` uses it anyway, as far as it goes.
  if (upload_options_.mode == UploadOptions::Mode::automatic &&
      mapped_heap < largest_local / 4 * 3) {
    log_(RTS_LOG_DEBUG,
         str_cat("vulkan: host-visible device memory is a ", mapped_heap, "-byte window of ",
                 largest_local, " bytes: constants are uploaded through staging"));
    return;
  }
  direct_memory_ = std::move(allocator);
}

void Device::create_layouts() {
  VkDescriptorSetLayoutBinding bindings[kMaxBindings];
  for (uint32_t i = 0; i < kMaxBindings; ++i) {
    bindings[i] = {};
    bindings[i].binding = i;
    bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  auto set_info = vk_struct<VkDescriptorSetLayoutCreateInfo>(
      VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
  set_info.bindingCount = kMaxBindings;
  set_info.pBindings = bindings;
  check_vk(vkCreateDescriptorSetLayout(device_, &set_info, nullptr, &set_layout_),
           "vkCreateDescriptorSetLayout");
  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
  auto layout_info =
      vk_struct<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  layout_info.setLayoutCount = 1;
  layout_info.pSetLayouts = &set_layout_;
  layout_info.pushConstantRangeCount = 1;
  layout_info.pPushConstantRanges = &push;
  check_vk(vkCreatePipelineLayout(device_, &layout_info, nullptr, &pipeline_layout_),
           "vkCreatePipelineLayout");
}

Device::~Device() { release(); }

void Device::release() {
  if (device_ == VK_NULL_HANDLE) return;
  vkDeviceWaitIdle(device_);
  if (one_shot_fence_ != VK_NULL_HANDLE) vkDestroyFence(device_, one_shot_fence_, nullptr);
  if (one_shot_pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device_, one_shot_pool_, nullptr);
  one_shot_fence_ = VK_NULL_HANDLE;
  one_shot_pool_ = VK_NULL_HANDLE;
  tensors_.reset();
  direct_memory_.reset();
  staging_memory_.reset();
  device_memory_.reset();
  if (pipeline_layout_ != VK_NULL_HANDLE) {
    vkDestroyPipelineLayout(device_, pipeline_layout_, nullptr);
  }
  if (set_layout_ != VK_NULL_HANDLE) vkDestroyDescriptorSetLayout(device_, set_layout_, nullptr);
  vkDestroyDevice(device_, nullptr);
  device_ = VK_NULL_HANDLE;
}

void Device::submit(VkCommandBuffer commands, VkFence fence) {
  auto info = vk_struct<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
  info.commandBufferCount = 1;
  info.pCommandBuffers = &commands;
  std::lock_guard lock(queue_mutex_);
  check_vk(vkQueueSubmit(queue_, 1, &info, fence), "vkQueueSubmit");
}

void Device::wait(VkFence fence, std::chrono::microseconds spin,
                  std::chrono::seconds timeout) const {
  const auto spin_until = std::chrono::steady_clock::now() + spin;
  while (true) {
    const VkResult status = vkGetFenceStatus(device_, fence);
    if (status == VK_SUCCESS) return;
    if (status != VK_NOT_READY) check_vk(status, "vkGetFenceStatus");
    if (std::chrono::steady_clock::now() >= spin_until) break;
  }
  const uint64_t nanoseconds =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
  const VkResult result = vkWaitForFences(device_, 1, &fence, VK_TRUE, nanoseconds);
  if (result == VK_TIMEOUT) {
    fail(RTS_ERROR_DEVICE, "vulkan: vkWaitForFences timed out after ", timeout.count(),
         " s (the device may be hung)");
  }
  check_vk(result, "vkWaitForFences");
}

void Device::run_one_shot(const std::function<void(VkCommandBuffer)>& record) {
  std::lock_guard lock(one_shot_mutex_);
  check_vk(vkResetCommandBuffer(one_shot_buffer_, 0), "vkResetCommandBuffer (uploads)");
  auto begin = vk_struct<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check_vk(vkBeginCommandBuffer(one_shot_buffer_, &begin), "vkBeginCommandBuffer (uploads)");
  record(one_shot_buffer_);
  check_vk(vkEndCommandBuffer(one_shot_buffer_), "vkEndCommandBuffer (uploads)");
  check_vk(vkResetFences(device_, 1, &one_shot_fence_), "vkResetFences (uploads)");
  submit(one_shot_buffer_, one_shot_fence_);
  wait(one_shot_fence_, std::chrono::microseconds(0));
}

}  // namespace rtscope::vulkan
