#include "device_tensors.hpp"

#include <algorithm>
#include <cstring>

#include "device.hpp"
#include "error.hpp"

namespace rtscope::vulkan {
namespace {

// Staging chunk for device_copy: large enough to amortize a submit, small
// enough to stay inside one staging block.
constexpr VkDeviceSize kCopyChunk = VkDeviceSize{16} << 20;

// Barriers reach across submissions on one queue: the first orders the copy
// after earlier executes that wrote the tensor, the second orders later
// executes after a copy onto the device.
void barrier(VkCommandBuffer commands, VkPipelineStageFlags from, VkAccessFlags written,
             VkPipelineStageFlags to, VkAccessFlags accessed) {
  VkMemoryBarrier memory{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, written, accessed};
  vkCmdPipelineBarrier(commands, from, to, 0, 1, &memory, 0, nullptr, 0, nullptr);
}

constexpr VkAccessFlags kDeviceAccess = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                        VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkPipelineStageFlags kDeviceStages =
    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

}  // namespace

DeviceTensors::~DeviceTensors() = default;

void* DeviceTensors::allocate(uint64_t bytes) {
  auto allocation = std::make_unique<Allocation>(device_.device_memory().allocate(
      std::max<uint64_t>(bytes, 4), str_cat("device tensor of ", bytes, " bytes")));
  std::lock_guard lock(mutex_);
  void* handle = allocation.get();
  entries_.emplace(handle, std::move(allocation));
  return handle;
}

bool DeviceTensors::free(void* handle) {
  std::unique_ptr<Allocation> released;
  {
    std::lock_guard lock(mutex_);
    auto found = entries_.find(handle);
    if (found == entries_.end()) return false;
    released = std::move(found->second);
    entries_.erase(found);
  }
  return true;  // `released` returns the range outside the lock
}

std::optional<BufferRegion> DeviceTensors::find(const void* handle) const {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(handle);
  if (found == entries_.end()) return std::nullopt;
  return found->second->region();
}

uint64_t DeviceTensors::live() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void DeviceTensors::copy(const void* handle, void* host, uint64_t bytes, bool to_device) {
  const std::optional<BufferRegion> region = find(handle);
  if (!region) fail_invalid("device_copy: the pointer is not device memory of this plugin");
  if (bytes > region->size) {
    fail_invalid("device_copy of ", bytes, " bytes beyond a ", region->size, "-byte allocation");
  }
  if (bytes == 0) return;
  Allocation staging = device_.staging_memory().allocate(std::min<VkDeviceSize>(bytes, kCopyChunk),
                                                         "device_copy staging");
  auto* bytes_host = static_cast<std::byte*>(host);
  for (VkDeviceSize done = 0; done < bytes;) {
    const VkDeviceSize chunk = std::min<VkDeviceSize>(bytes - done, kCopyChunk);
    VkBufferCopy copy{};
    copy.size = chunk;
    if (to_device) {
      std::memcpy(staging.mapped(), bytes_host + done, chunk);
      copy.srcOffset = staging.region().offset;
      copy.dstOffset = region->offset + done;
      device_.run_one_shot([&](VkCommandBuffer commands) {
        barrier(commands, kDeviceStages | VK_PIPELINE_STAGE_HOST_BIT,
                kDeviceAccess | VK_ACCESS_HOST_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
        vkCmdCopyBuffer(commands, staging.region().buffer, region->buffer, 1, &copy);
        barrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                kDeviceStages, kDeviceAccess);
      });
    } else {
      copy.srcOffset = region->offset + done;
      copy.dstOffset = staging.region().offset;
      device_.run_one_shot([&](VkCommandBuffer commands) {
        barrier(commands, kDeviceStages, kDeviceAccess, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
        vkCmdCopyBuffer(commands, region->buffer, staging.region().buffer, 1, &copy);
        // A fence wait alone does not make device writes visible to the host.
        barrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
      });
      std::memcpy(bytes_host + done, staging.mapped(), chunk);
    }
    done += chunk;
  }
}

}  // namespace rtscope::vulkan
