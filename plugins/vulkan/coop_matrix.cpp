#include "coop_matrix.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "error.hpp"
#include "physical_device.hpp"

namespace rtscope::vulkan {
namespace {

// Shared memory of matmul_coop.comp: a 128x(32+8) slab of A and a
// 32x(256+8) slab of B, in halves.
constexpr uint32_t kSharedBytes = (128 * 40 + 32 * 264) * 2;
constexpr uint32_t kWorkgroupInvocations = 256;

bool disabled_by_environment() {
  const char* value = std::getenv("RTSCOPE_VULKAN_COOP_MATRIX");
  return value != nullptr && std::strcmp(value, "0") == 0;
}

}  // namespace

bool supports_coop_matrix_f16(VkInstance instance, VkPhysicalDevice device,
                              const VkPhysicalDeviceProperties& properties, const DeviceCaps& caps,
                              std::string& why) {
  if (disabled_by_environment()) {
    why = "turned off by RTSCOPE_VULKAN_COOP_MATRIX=0";
    return false;
  }
  if (!has_device_extension(device, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME)) {
    why = "no VK_NV_cooperative_matrix";
    return false;
  }
  if (properties.apiVersion < VK_API_VERSION_1_2) {
    why = "cooperative matrices need Vulkan 1.2 (shaderFloat16)";
    return false;
  }
  if (!caps.storage_16bit || caps.subgroup_size != 32 || caps.max_shared_memory < kSharedBytes ||
      properties.limits.maxComputeWorkGroupInvocations < kWorkgroupInvocations) {
    why = str_cat("needs 16-bit storage, 32-wide subgroups, ", kSharedBytes,
                  " bytes of shared memory and ", kWorkgroupInvocations, "-invocation workgroups");
    return false;
  }
  CoopMatrixFeatures wanted;
  auto features =
      vk_struct<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  wanted.link(&features.pNext);
  vkGetPhysicalDeviceFeatures2(device, &features);
  if (!wanted.coop.cooperativeMatrix || !wanted.float16.shaderFloat16 || !caps.memory_model) {
    why = "cooperativeMatrix, shaderFloat16 or vulkanMemoryModel feature missing";
    return false;
  }
  auto list = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
  if (list == nullptr) {
    why = "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV unavailable";
    return false;
  }
  uint32_t count = 0;
  list(device, &count, nullptr);
  std::vector<VkCooperativeMatrixPropertiesNV> shapes(
      count, vk_struct<VkCooperativeMatrixPropertiesNV>(
                 VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV));
  list(device, &count, shapes.data());
  const bool found = std::any_of(shapes.begin(), shapes.end(), [](const auto& s) {
    return s.MSize == 16 && s.NSize == 16 && s.KSize == 16 &&
           s.AType == VK_COMPONENT_TYPE_FLOAT16_NV && s.BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
           s.CType == VK_COMPONENT_TYPE_FLOAT32_NV && s.DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
           s.scope == VK_SCOPE_SUBGROUP_NV;
  });
  if (!found) {
    why = "no 16x16x16 f16 x f16 + f32 subgroup shape";
    return false;
  }
  return true;
}

CoopMatrixFeatures::CoopMatrixFeatures()
    : coop(vk_struct<VkPhysicalDeviceCooperativeMatrixFeaturesNV>(
          VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV)),
      float16(vk_struct<VkPhysicalDeviceShaderFloat16Int8Features>(
          VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES)) {}

void CoopMatrixFeatures::link(void** chain) {
  float16.pNext = *chain;
  coop.pNext = &float16;
  *chain = &coop;
}

}  // namespace rtscope::vulkan
