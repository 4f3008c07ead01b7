#include "allocator.hpp"

#include <algorithm>
#include <bit>
#include <utility>

#include "error.hpp"

namespace rtscope::vulkan {
namespace {

VkDeviceSize align_up(VkDeviceSize value, VkDeviceSize alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// memoryTypeBits is the same for every buffer with the same usage and
// flags, so one throw-away buffer tells which types can back our blocks.
VkMemoryRequirements probe_requirements(VkDevice device, VkBufferUsageFlags usage) {
  auto info = vk_struct<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  info.size = 4096;
  info.usage = usage;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer = VK_NULL_HANDLE;
  check_vk(vkCreateBuffer(device, &info, nullptr, &buffer), "vkCreateBuffer (memory type probe)");
  VkMemoryRequirements requirements{};
  vkGetBufferMemoryRequirements(device, buffer, &requirements);
  vkDestroyBuffer(device, buffer, nullptr);
  return requirements;
}

}  // namespace

Allocation& Allocation::operator=(Allocation&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::exchange(other.owner_, nullptr);
    block_ = std::exchange(other.block_, nullptr);
    buffer_ = std::exchange(other.buffer_, VK_NULL_HANDLE);
    offset_ = std::exchange(other.offset_, 0);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, nullptr);
  }
  return *this;
}

void Allocation::reset() {
  if (owner_ != nullptr) owner_->release(block_, offset_, size_);
  owner_ = nullptr;
  block_ = nullptr;
  buffer_ = VK_NULL_HANDLE;
  offset_ = size_ = 0;
  mapped_ = nullptr;
}

BlockAllocator::BlockAllocator(VkDevice device, const VkPhysicalDeviceMemoryProperties& memory,
                               Options options)
    : device_(device), options_(std::move(options)) {
  const VkMemoryRequirements requirements = probe_requirements(device_, options_.usage);
  int best = -1;
  int best_score = 0;
  for (uint32_t type = 0; type < memory.memoryTypeCount; ++type) {
    if ((requirements.memoryTypeBits & (1u << type)) == 0) continue;
    const VkMemoryPropertyFlags flags = memory.memoryTypes[type].propertyFlags;
    if ((flags & options_.required) != options_.required) continue;
    const int score = 4 * std::popcount(flags & options_.preferred) -
                      4 * std::popcount(flags & options_.avoided) - std::popcount(flags);
    if (best < 0 || score > best_score) {
      best = static_cast<int>(type);
      best_score = score;
    }
  }
  if (best < 0) {
    fail(RTS_ERROR_DEVICE, "vulkan: no memory type for ", options_.label,
         " buffers has the required property flags 0x", std::hex, options_.required);
  }
  memory_type_ = static_cast<uint32_t>(best);
  alignment_ = std::max<VkDeviceSize>({options_.alignment, requirements.alignment, 16});
}

BlockAllocator::~BlockAllocator() {
  for (auto& block : blocks_) destroy_block(*block);
}

BlockAllocator::Block& BlockAllocator::new_block(VkDeviceSize size, const std::string& what) {
  if (options_.max_allocation > 0 && size > options_.max_allocation) {
    fail(RTS_ERROR_OUT_OF_MEMORY, "vulkan: ", what, " needs ", size, " bytes of ", options_.label,
         " memory, more than the device's maxMemoryAllocationSize (", options_.max_allocation, ")");
  }
  auto block = std::make_unique<Block>();
  block->size = size;
  auto buffer_info = vk_struct<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  buffer_info.size = size;
  buffer_info.usage = options_.usage;
  buffer_info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check_vk(vkCreateBuffer(device_, &buffer_info, nullptr, &block->buffer),
           "vkCreateBuffer (" + options_.label + " block)");
  VkMemoryRequirements requirements{};
  vkGetBufferMemoryRequirements(device_, block->buffer, &requirements);
  auto allocate_info = vk_struct<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
  allocate_info.allocationSize = requirements.size;
  allocate_info.memoryTypeIndex = memory_type_;
  const VkResult allocated = vkAllocateMemory(device_, &allocate_info, nullptr, &block->memory);
  if (allocated != VK_SUCCESS) {
    vkDestroyBuffer(device_, block->buffer, nullptr);
    check_vk(allocated, str_cat("vkAllocateMemory (", size, " bytes of ", options_.label,
                                " memory for ", what, ")"));
  }
  VkResult bound = vkBindBufferMemory(device_, block->buffer, block->memory, 0);
  if (bound == VK_SUCCESS && options_.map) {
    void* mapped = nullptr;
    bound = vkMapMemory(device_, block->memory, 0, VK_WHOLE_SIZE, 0, &mapped);
    block->mapped = static_cast<std::byte*>(mapped);
  }
  if (bound != VK_SUCCESS) {
    destroy_block(*block);
    check_vk(bound, "vkBindBufferMemory/vkMapMemory (" + options_.label + " block)");
  }
  block->free.emplace(0, size);
  blocks_.push_back(std::move(block));
  return *blocks_.back();
}

void BlockAllocator::destroy_block(Block& block) {
  if (block.mapped != nullptr) vkUnmapMemory(device_, block.memory);
  if (block.buffer != VK_NULL_HANDLE) vkDestroyBuffer(device_, block.buffer, nullptr);
  if (block.memory != VK_NULL_HANDLE) vkFreeMemory(device_, block.memory, nullptr);
  block = Block{};
}

Allocation BlockAllocator::allocate(VkDeviceSize size, const std::string& what) {
  const VkDeviceSize rounded = align_up(std::max<VkDeviceSize>(size, 1), alignment_);
  if (options_.max_range > 0 && size > options_.max_range) {
    fail(RTS_ERROR_UNSUPPORTED, "vulkan: ", what, " needs ", size,
         " bytes in one buffer binding, more than the device's maxStorageBufferRange (",
         options_.max_range, ")");
  }
  std::lock_guard lock(mutex_);
  Block* chosen = nullptr;
  VkDeviceSize offset = 0;
  for (auto& block : blocks_) {
    for (const auto& [start, length] : block->free) {
      if (length >= rounded) {
        chosen = block.get();
        offset = start;
        break;
      }
    }
    if (chosen != nullptr) break;
  }
  if (chosen == nullptr) {
    chosen = &new_block(std::max(options_.block_size, rounded), what);
    offset = 0;
  }
  const auto range = chosen->free.find(offset);
  const VkDeviceSize remaining = range->second - rounded;
  chosen->free.erase(range);
  if (remaining > 0) chosen->free.emplace(offset + rounded, remaining);
  chosen->used += rounded;

  Allocation allocation;
  allocation.owner_ = this;
  allocation.block_ = chosen;
  allocation.buffer_ = chosen->buffer;
  allocation.offset_ = offset;
  allocation.size_ = rounded;
  allocation.mapped_ = chosen->mapped != nullptr ? chosen->mapped + offset : nullptr;
  return allocation;
}

void BlockAllocator::release(void* block_handle, VkDeviceSize offset, VkDeviceSize size) {
  std::lock_guard lock(mutex_);
  auto* block = static_cast<Block*>(block_handle);
  auto next = block->free.lower_bound(offset);
  VkDeviceSize start = offset;
  VkDeviceSize length = size;
  if (next != block->free.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == offset) {
      start = previous->first;
      length += previous->second;
      block->free.erase(previous);
    }
  }
  if (next != block->free.end() && offset + size == next->first) {
    length += next->second;
    block->free.erase(next);
  }
  block->free.emplace(start, length);
  block->used -= size;
  if (block->used > 0) return;
  // Keep one empty standard-size block so that plans rebuilt in a loop do
  // not allocate device memory each time; give the rest back.
  size_t empty_blocks = 0;
  for (const auto& other : blocks_) empty_blocks += other->used == 0 ? 1 : 0;
  if (empty_blocks <= 1 && block->size == options_.block_size) return;
  const auto found = std::find_if(blocks_.begin(), blocks_.end(),
                                  [block](const auto& owned) { return owned.get() == block; });
  destroy_block(*block);
  blocks_.erase(found);
}

}  // namespace rtscope::vulkan
