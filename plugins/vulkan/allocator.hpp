// Device memory sub-allocation. Vulkan limits the number of live memory
// allocations (4096 on many drivers) and each vkAllocateMemory is slow, so
// tensors never get their own: a BlockAllocator owns large blocks of one
// memory type, each bound to one VkBuffer covering the whole block, and
// hands out aligned ranges from a per-block free list. Plans and engines
// allocate once and keep their ranges; nothing is allocated per execute.
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "buffer.hpp"

namespace rtscope::vulkan {

class BlockAllocator;

// A range handed out by a BlockAllocator; returned to it on destruction.
// Move-only.
class Allocation {
 public:
  Allocation() = default;
  Allocation(Allocation&& other) noexcept { *this = std::move(other); }
  Allocation& operator=(Allocation&& other) noexcept;
  Allocation(const Allocation&) = delete;
  Allocation& operator=(const Allocation&) = delete;
  ~Allocation() { reset(); }

  void reset();
  explicit operator bool() const { return owner_ != nullptr; }
  BufferRegion region() const { return {buffer_, offset_, size_}; }
  VkDeviceSize size() const { return size_; }
  // Host address of the range when the memory is host-visible, else nullptr.
  std::byte* mapped() const { return mapped_; }

 private:
  friend class BlockAllocator;
  BlockAllocator* owner_ = nullptr;
  void* block_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceSize offset_ = 0;
  VkDeviceSize size_ = 0;
  std::byte* mapped_ = nullptr;
};

class BlockAllocator {
 public:
  struct Options {
    std::string label;  // "device-local", "staging": names it in messages
    VkBufferUsageFlags usage = 0;
    VkMemoryPropertyFlags required = 0;
    VkMemoryPropertyFlags preferred = 0;  // each preferred flag present scores
    VkMemoryPropertyFlags avoided = 0;    // each avoided flag present costs
    VkDeviceSize block_size = VkDeviceSize{64} << 20;
    VkDeviceSize alignment = 256;
    VkDeviceSize max_allocation = 0;  // maxMemoryAllocationSize; 0: no limit
    VkDeviceSize max_range = 0;       // maxStorageBufferRange when bound as storage; 0: none
    bool map = false;                 // keep blocks persistently mapped
  };

  // Chooses the memory type; throws Error when no type has `required`.
  BlockAllocator(VkDevice device, const VkPhysicalDeviceMemoryProperties& memory, Options options);
  // Every Allocation must have been released.
  ~BlockAllocator();
  BlockAllocator(const BlockAllocator&) = delete;
  BlockAllocator& operator=(const BlockAllocator&) = delete;

  // A range of at least `size` bytes (at least one alignment unit). `what`
  // names the tensor or purpose in errors. Thread-safe.
  Allocation allocate(VkDeviceSize size, const std::string& what);

  uint32_t memory_type() const { return memory_type_; }

 private:
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceSize size = 0;
    VkDeviceSize used = 0;
    std::byte* mapped = nullptr;
    std::map<VkDeviceSize, VkDeviceSize> free;  // offset -> size, coalesced
  };

  friend class Allocation;
  void release(void* block, VkDeviceSize offset, VkDeviceSize size);
  Block& new_block(VkDeviceSize size, const std::string& what);
  void destroy_block(Block& block);

  VkDevice device_;
  Options options_;
  uint32_t memory_type_ = 0;
  VkDeviceSize alignment_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Block>> blocks_;
};

}  // namespace rtscope::vulkan
