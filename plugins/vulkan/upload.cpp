#include "upload.hpp"

#include <algorithm>
#include <vector>

#include "device.hpp"
#include "error.hpp"
#include "half.hpp"

namespace rtscope::vulkan {
namespace {

// Staging per round trip; larger items are split.
constexpr VkDeviceSize kChunkBytes = VkDeviceSize{32} << 20;

struct Piece {
  const UploadItem* item;
  size_t first;  // element range of the item
  size_t count;
};

}  // namespace

void upload(Device& device, std::span<const UploadItem> items) {
  std::vector<Piece> pieces;
  for (const UploadItem& item : items) {
    const size_t element = dtype_size(item.device_dtype);
    const size_t per_chunk = std::max<size_t>(kChunkBytes / element, 1);
    for (size_t first = 0; first < item.elements; first += per_chunk) {
      pieces.push_back({&item, first, std::min(per_chunk, item.elements - first)});
    }
  }
  Allocation staging;
  size_t next = 0;
  while (next < pieces.size()) {
    // Fill one chunk of staging with as many pieces as fit.
    size_t end = next;
    VkDeviceSize bytes = 0;
    while (end < pieces.size()) {
      const VkDeviceSize piece_bytes =
          pieces[end].count * dtype_size(pieces[end].item->device_dtype);
      if (end > next && bytes + piece_bytes > kChunkBytes) break;
      bytes += piece_bytes;
      ++end;
    }
    if (!staging || staging.size() < bytes) {
      staging.reset();
      staging = device.staging_memory().allocate(std::max(bytes, kChunkBytes), "weight upload");
    }
    std::vector<VkBufferCopy> copies;
    VkDeviceSize offset = 0;
    for (size_t p = next; p < end; ++p) {
      const Piece& piece = pieces[p];
      const UploadItem& item = *piece.item;
      const size_t host_element = dtype_size(item.host_dtype);
      const size_t device_element = dtype_size(item.device_dtype);
      convert_elements(staging.mapped() + offset, item.device_dtype,
                       static_cast<const std::byte*>(item.data) + piece.first * host_element,
                       item.host_dtype, piece.count, device_element);
      const VkDeviceSize piece_bytes = piece.count * device_element;
      copies.push_back({staging.region().offset + offset,
                        item.target.offset + piece.first * device_element, piece_bytes});
      offset += piece_bytes;
    }
    device.run_one_shot([&](VkCommandBuffer commands) {
      // One vkCmdCopyBuffer per target buffer (blocks hold many constants).
      for (size_t p = next, c = 0; p < end; ++p, ++c) {
        vkCmdCopyBuffer(commands, staging.region().buffer, pieces[p].item->target.buffer, 1,
                        &copies[c]);
      }
    });
    next = end;
  }
}

}  // namespace rtscope::vulkan
