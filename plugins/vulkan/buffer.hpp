// A range of a VkBuffer: what a descriptor binds, what a copy reads or
// writes, and the unit of hazard tracking between commands.
#pragma once

#include <vulkan/vulkan.h>

namespace rtscope::vulkan {

struct BufferRegion {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize size = 0;

  bool overlaps(const BufferRegion& other) const {
    return buffer == other.buffer && buffer != VK_NULL_HANDLE &&
           offset < other.offset + other.size && other.offset < offset + size;
  }
  bool operator==(const BufferRegion&) const = default;
};

}  // namespace rtscope::vulkan
