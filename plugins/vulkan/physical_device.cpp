#include "physical_device.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>

#include "coop_matrix.hpp"
#include "error.hpp"
#include "rtscope/kit/enum_name.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

// Workgroups larger than this rarely help the bandwidth-bound shaders.
constexpr uint32_t kPreferredWorkgroup = 256;

uint32_t floor_power_of_two(uint32_t value) {
  uint32_t power = 1;
  while (power * 2 <= value) power *= 2;
  return power;
}

// Lower is preferred.
int kind_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return 3;
    default:
      return 4;
  }
}

rts_device_kind device_kind(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return RTS_DEVICE_CPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return RTS_DEVICE_VIRTUAL;
    default:
      return RTS_DEVICE_GPU;
  }
}

std::string hex_bytes(const uint8_t* bytes, size_t count) {
  std::string text;
  char digits[3];
  for (size_t i = 0; i < count; ++i) {
    std::snprintf(digits, sizeof(digits), "%02x", bytes[i]);
    text += digits;
  }
  return text;
}

void copy_into(char* destination, size_t capacity, const std::string& text) {
  const size_t length = std::min(text.size(), capacity - 1);
  std::memcpy(destination, text.data(), length);
  destination[length] = '\0';
}

void choose_workgroups(const VkPhysicalDeviceLimits& limits, DeviceCaps& caps) {
  const uint32_t invocations = limits.maxComputeWorkGroupInvocations;
  caps.linear_workgroup =
      std::min({kPreferredWorkgroup, invocations, limits.maxComputeWorkGroupSize[0]});
  // Row shaders also keep reduction scratch in shared memory. The most is
  // attention_split's: 11 floats per invocation (two per-invocation
  // arrays, and 8 value sums each in its vector pass) plus a query row
  // and a block's weights; attention.comp and argmax need less.
  uint32_t rows = floor_power_of_two(caps.linear_workgroup);
  const uint32_t attention_shared =
      (kAttentionMaxHeadDim + kAttentionSplitBlock + 2) * sizeof(float);
  while (rows > 32 && rows * 11 * sizeof(float) + attention_shared > caps.max_shared_memory) {
    rows /= 2;
  }
  caps.rows_workgroup = rows;
  caps.matvec_workgroup = rows;
  // Matmul: 16×16 threads (64×64 tiles) where the device allows, else 8×8.
  caps.tile_x = caps.tile_y = 16;
  auto tile_fits = [&](uint32_t tile) {
    const uint32_t shared = 16 /*BK*/ * (tile * 4) * 2 * sizeof(float);
    return tile * tile <= invocations && tile <= limits.maxComputeWorkGroupSize[0] &&
           tile <= limits.maxComputeWorkGroupSize[1] && shared <= caps.max_shared_memory;
  };
  if (!tile_fits(16)) caps.tile_x = caps.tile_y = 8;
  // GPUs with 32-wide or wider subgroups have the registers for 8×8
  // outputs per thread (128×128 tiles), which doubles the arithmetic per
  // shared-memory load; CPU drivers such as lavapipe keep 4×4.
  const uint32_t wide_shared = 16 /*BK*/ * (caps.tile_x * 8) * 2 * sizeof(float);
  if (caps.subgroup_size >= 32 && wide_shared <= caps.max_shared_memory) caps.tile_regs = 8;
}

// Describes `handle`; nullopt (with the reason in `why`) when the plugin
// cannot use it.
std::optional<PhysicalDevice> describe(VkPhysicalDevice handle, uint32_t index,
                                       bool allow_16bit_storage, std::string& why) {
  PhysicalDevice device;
  device.handle = handle;
  device.enumeration_index = index;
  vkGetPhysicalDeviceProperties(handle, &device.properties);
  const VkPhysicalDeviceProperties& properties = device.properties;
  if (properties.apiVersion < VK_API_VERSION_1_1) {
    why = "supports only Vulkan 1.0";
    return std::nullopt;
  }
  uint32_t family_count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(handle, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  vkGetPhysicalDeviceQueueFamilyProperties(handle, &family_count, families.data());
  std::optional<uint32_t> family;
  for (uint32_t i = 0; i < family_count && !family; ++i) {
    if ((families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && families[i].queueCount > 0) family = i;
  }
  if (!family) {
    why = "has no compute queue";
    return std::nullopt;
  }
  if (properties.limits.maxPerStageDescriptorStorageBuffers < kMaxBindings) {
    why = str_cat("allows ", properties.limits.maxPerStageDescriptorStorageBuffers,
                  " storage buffers per shader stage; the plugin's pipelines bind ", kMaxBindings);
    return std::nullopt;
  }

  DeviceCaps& caps = device.caps;
  caps.api_version = properties.apiVersion;
  caps.queue_family = *family;
  caps.timestamp_bits = families[*family].timestampValidBits;
  caps.timestamp_period_ns = properties.limits.timestampPeriod;

  auto subgroup = vk_struct<VkPhysicalDeviceSubgroupProperties>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES);
  auto ids =
      vk_struct<VkPhysicalDeviceIDProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES);
  auto maintenance3 = vk_struct<VkPhysicalDeviceMaintenance3Properties>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES);
  subgroup.pNext = &ids;
  ids.pNext = &maintenance3;
  auto properties2 =
      vk_struct<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2);
  properties2.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(handle, &properties2);

  const VkPhysicalDeviceLimits& limits = properties.limits;
  caps.subgroup_size = subgroup.subgroupSize;
  caps.subgroup_arithmetic =
      (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0 &&
      (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0 &&
      caps.subgroup_size >= 4;
  const bool shuffle = (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) != 0;
  caps.matvec_split_rows =
      caps.subgroup_arithmetic && shuffle && caps.subgroup_size >= 8 ? kMatvecSplitRows : 0;
  caps.max_shared_memory = limits.maxComputeSharedMemorySize;
  caps.max_push_constants = limits.maxPushConstantsSize;
  caps.max_storage_range = limits.maxStorageBufferRange;
  caps.max_allocation = maintenance3.maxMemoryAllocationSize;
  std::copy(limits.maxComputeWorkGroupCount, limits.maxComputeWorkGroupCount + 3,
            caps.max_group_count);
  caps.storage_offset_alignment = limits.minStorageBufferOffsetAlignment;
  if (caps.max_push_constants < kPushConstantBytes) {
    why = str_cat("allows only ", caps.max_push_constants, " bytes of push constants");
    return std::nullopt;
  }

  // Chaining a feature struct the device does not know is invalid usage,
  // so 8-bit storage is queried only where it exists.
  const bool has_8bit = properties.apiVersion >= VK_API_VERSION_1_2 ||
                        has_device_extension(handle, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
  auto storage16 = vk_struct<VkPhysicalDevice16BitStorageFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
  auto storage8 = vk_struct<VkPhysicalDevice8BitStorageFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES);
  if (has_8bit) storage16.pNext = &storage8;
  auto memory_model = vk_struct<VkPhysicalDeviceVulkanMemoryModelFeatures>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES);
  // Core in Vulkan 1.2, as is shaderFloat16; 1.1 devices go without both.
  const bool vulkan_1_2 = properties.apiVersion >= VK_API_VERSION_1_2;
  auto float16 = vk_struct<VkPhysicalDeviceShaderFloat16Int8Features>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES);
  if (vulkan_1_2) {
    memory_model.pNext = storage16.pNext;
    float16.pNext = &memory_model;
    storage16.pNext = &float16;
  }
  auto features =
      vk_struct<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  features.pNext = &storage16;
  vkGetPhysicalDeviceFeatures2(handle, &features);
  caps.memory_model = vulkan_1_2 && memory_model.vulkanMemoryModel == VK_TRUE;
  caps.memory_model_device_scope =
      caps.memory_model && memory_model.vulkanMemoryModelDeviceScope == VK_TRUE;
  caps.storage_16bit = allow_16bit_storage && storage16.storageBuffer16BitAccess == VK_TRUE;
  caps.shader_float16 = caps.storage_16bit && float16.shaderFloat16 == VK_TRUE;
  caps.storage_8bit = has_8bit && storage8.storageBuffer8BitAccess == VK_TRUE;
  caps.storage_8bit_needs_extension =
      caps.storage_8bit && properties.apiVersion < VK_API_VERSION_1_2;

  vkGetPhysicalDeviceMemoryProperties(handle, &device.memory);
  choose_workgroups(limits, caps);

  char head[96];
  std::snprintf(head, sizeof(head), "vulkan/%x/%x/%u/", properties.vendorID, properties.deviceID,
                properties.driverVersion);
  device.fingerprint = head + hex_bytes(properties.pipelineCacheUUID, VK_UUID_SIZE);

  rts_device_info& info = device.info;
  info.struct_size = sizeof(info);
  copy_into(info.name, sizeof(info.name), properties.deviceName);
  info.kind = device_kind(properties.deviceType);
  info.vendor_id = properties.vendorID;
  info.device_id = properties.deviceID;
  info.driver_version = properties.driverVersion;
  std::memcpy(info.uuid, ids.deviceUUID, sizeof(info.uuid));
  for (uint32_t heap = 0; heap < device.memory.memoryHeapCount; ++heap) {
    if (device.memory.memoryHeaps[heap].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) {
      info.memory_bytes += device.memory.memoryHeaps[heap].size;
    }
  }
  copy_into(info.fingerprint, sizeof(info.fingerprint), device.fingerprint);
  return device;
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string describe_list(const std::vector<PhysicalDevice>& devices) {
  std::string text;
  for (const PhysicalDevice& device : devices) {
    text += str_cat(text.empty() ? "" : ", ", device.enumeration_index, " '",
                    device.properties.deviceName, "'");
  }
  return text.empty() ? "none" : text;
}

}  // namespace

bool supports_pipeline_statistics(VkPhysicalDevice device) {
  // The feature struct is queried only where the extension exists.
  if (!has_device_extension(device, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)) {
    return false;
  }
  auto executable = vk_struct<VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR);
  auto features =
      vk_struct<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  features.pNext = &executable;
  vkGetPhysicalDeviceFeatures2(device, &features);
  return executable.pipelineExecutableInfo == VK_TRUE;
}

bool has_device_extension(VkPhysicalDevice device, const char* name) {
  uint32_t count = 0;
  if (vkEnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr) != VK_SUCCESS) {
    return false;
  }
  std::vector<VkExtensionProperties> extensions(count);
  if (vkEnumerateDeviceExtensionProperties(device, nullptr, &count, extensions.data()) !=
      VK_SUCCESS) {
    return false;
  }
  return std::any_of(extensions.begin(), extensions.end(), [name](const VkExtensionProperties& e) {
    return std::strcmp(e.extensionName, name) == 0;
  });
}

const char* device_type_name(VkPhysicalDeviceType type) {
  // By VkPhysicalDeviceType: OTHER, INTEGRATED_GPU, DISCRETE_GPU, VIRTUAL_GPU, CPU.
  static constexpr const char* kNames[] = {"other", "integrated GPU", "discrete GPU", "virtual GPU",
                                           "CPU"};
  return kit::enum_name(type, kNames, "other");
}

std::vector<PhysicalDevice> list_devices(const Instance& instance, const char* selection,
                                         bool allow_16bit_storage, const LogFn& log) {
  const std::vector<VkPhysicalDevice> handles = instance.physical_devices();
  if (handles.empty()) {
    fail(RTS_ERROR_DEVICE, "no Vulkan device: vkEnumeratePhysicalDevices found none");
  }
  std::vector<PhysicalDevice> devices;
  for (uint32_t i = 0; i < handles.size(); ++i) {
    std::string why;
    std::optional<PhysicalDevice> device = describe(handles[i], i, allow_16bit_storage, why);
    if (!device) {
      VkPhysicalDeviceProperties properties{};
      vkGetPhysicalDeviceProperties(handles[i], &properties);
      log(RTS_LOG_INFO,
          str_cat("vulkan: skipping device ", i, " '", properties.deviceName, "': it ", why));
      continue;
    }
    device->caps.coop_matrix_f16 =
        supports_coop_matrix_f16(instance.handle(), handles[i], device->properties, device->caps,
                                 device->caps.coop_matrix_note);
    devices.push_back(std::move(*device));
  }
  if (devices.empty()) {
    fail(RTS_ERROR_DEVICE, "no Vulkan device: none of the ", handles.size(),
         " Vulkan devices is usable (Vulkan 1.1 with a compute queue is required)");
  }
  std::stable_sort(devices.begin(), devices.end(),
                   [](const PhysicalDevice& a, const PhysicalDevice& b) {
                     return kind_rank(a.properties.deviceType) < kind_rank(b.properties.deviceType);
                   });

  const std::string choice = selection != nullptr ? selection : "";
  if (!choice.empty()) {
    const bool numeric =
        std::all_of(choice.begin(), choice.end(), [](unsigned char c) { return std::isdigit(c); });
    auto matches = [&](const PhysicalDevice& device) {
      if (numeric) return std::to_string(device.enumeration_index) == choice;
      return lowercase(device.properties.deviceName).find(lowercase(choice)) != std::string::npos;
    };
    const auto found = std::find_if(devices.begin(), devices.end(), matches);
    if (found == devices.end()) {
      fail_invalid("RTSCOPE_VULKAN_DEVICE='", choice,
                   "' matches no usable Vulkan device (index in enumeration order, or part of the "
                   "name); devices: ",
                   describe_list(devices));
    }
    std::rotate(devices.begin(), found, found + 1);
  }
  return devices;
}

}  // namespace rtscope::vulkan
