// Tensor-core matmul through VK_NV_cooperative_matrix: whether a device can
// run matmul_coop.comp, and the features to enable for it. Debian 12's
// glslc compiles GL_NV_cooperative_matrix (not the KHR variant), which
// NVIDIA drivers offer; lavapipe has neither, so CI runs the tiled shader.
#pragma once

#include <vulkan/vulkan.h>

#include <string>

namespace rtscope::vulkan {

struct DeviceCaps;

// True when the device offers the extension with the cooperativeMatrix and
// shaderFloat16 features, the memory model (DeviceCaps::memory_model),
// 32-wide subgroups, enough shared memory, and a
// 16x16x16 subgroup shape with f16 A/B and f32 C/D. Otherwise false, with
// the reason in `why`. RTSCOPE_VULKAN_COOP_MATRIX=0 turns it off.
bool supports_coop_matrix_f16(VkInstance instance, VkPhysicalDevice device,
                              const VkPhysicalDeviceProperties& properties, const DeviceCaps& caps,
                              std::string& why);

// Feature structs to chain into VkDeviceCreateInfo when the path is used
// (the memory model is chained with the device's other features).
struct CoopMatrixFeatures {
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coop{};
  VkPhysicalDeviceShaderFloat16Int8Features float16{};

  CoopMatrixFeatures();
  // Puts the two structs in front of `*chain` (a pNext slot).
  void link(void** chain);
};

}  // namespace rtscope::vulkan
