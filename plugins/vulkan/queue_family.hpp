// Which queue family a device's contexts submit to (RTSCOPE_VULKAN_QUEUE).
// A GPU's first family with compute usually does graphics too; many also
// offer a family with compute and no graphics (NVIDIA's "async compute"
// queues), whose submits, barriers and completion can cost differently.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <optional>
#include <span>

namespace rtscope::vulkan {

enum class QueueChoice : uint8_t {
  kGeneral,      // the first family with compute (the default)
  kComputeOnly,  // a family with compute and no graphics where there is one
};

// RTSCOPE_VULKAN_QUEUE: unset, empty or "general" → kGeneral, "compute" →
// kComputeOnly; nullopt for anything else.
std::optional<QueueChoice> parse_queue_choice(const char* value);

struct QueueFamily {
  uint32_t index = 0;
  uint32_t timestamp_bits = 0;  // timestampValidBits; 0: no timestamps
  bool compute_only = false;    // compute without graphics
};

// The family `choice` asks for among `families` (as the device lists
// them): kComputeOnly falls back to the general family on a device that
// has no compute-only one (lavapipe, most integrated GPUs). nullopt when no
// family has a compute queue.
std::optional<QueueFamily> choose_queue_family(std::span<const VkQueueFamilyProperties> families,
                                               QueueChoice choice);

}  // namespace rtscope::vulkan
