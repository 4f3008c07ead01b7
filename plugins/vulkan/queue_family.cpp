#include "queue_family.hpp"

#include <string_view>

namespace rtscope::vulkan {

std::optional<QueueChoice> parse_queue_choice(const char* value) {
  if (value == nullptr || *value == '\0') return QueueChoice::kGeneral;
  const std::string_view text(value);
  if (text == "general") return QueueChoice::kGeneral;
  if (text == "compute") return QueueChoice::kComputeOnly;
  return std::nullopt;
}

std::optional<QueueFamily> choose_queue_family(std::span<const VkQueueFamilyProperties> families,
                                               QueueChoice choice) {
  std::optional<QueueFamily> general;
  std::optional<QueueFamily> compute_only;
  for (uint32_t i = 0; i < families.size(); ++i) {
    const VkQueueFamilyProperties& family = families[i];
    if ((family.queueFlags & VK_QUEUE_COMPUTE_BIT) == 0 || family.queueCount == 0) continue;
    const bool graphics = (family.queueFlags & VK_QUEUE_GRAPHICS_BIT) != 0;
    const QueueFamily found{i, family.timestampValidBits, !graphics};
    if (!general) general = found;
    if (!graphics && !compute_only) compute_only = found;
  }
  if (choice == QueueChoice::kComputeOnly && compute_only) return compute_only;
  return general;
}

}  // namespace rtscope::vulkan
