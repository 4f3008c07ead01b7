#include "upload.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <type_traits>
#include <vector>

#include "device.hpp"
#include "error.hpp"
#include "half.hpp"
#include "rtscope/kit/parallel_for.hpp"

namespace rtscope::vulkan {
namespace {

// Staging per round trip; larger items are split. Large enough that the
// submit-and-wait per chunk is small next to filling it.
constexpr VkDeviceSize kChunkBytes = VkDeviceSize{64} << 20;
// Pieces are cut to at most this much so every core gets work while a
// chunk is filled (page faults on a freshly mapped file included).
constexpr size_t kPieceBytes = size_t{4} << 20;

struct Piece {
  const UploadItem* item;
  size_t first;  // element range of the item, in the target's order
  size_t count;
};

template <typename From, typename To>
To convert_one(From value) {
  if constexpr (std::is_same_v<From, To>) {
    return value;
  } else if constexpr (std::is_same_v<From, uint16_t>) {
    return half_to_float(value);
  } else {
    return float_to_half(value);
  }
}

// Source columns [c0, c1) of a [rows, cols] matrix as target rows
// (target[c][r] = source[r][c]), in 64 x 64 tiles so that reads and writes
// both stay within cache lines.
template <typename From, typename To>
void transpose_columns(const From* in, To* out, size_t rows, size_t cols, size_t c0, size_t c1) {
  constexpr size_t kTile = 64;
  for (size_t r0 = 0; r0 < rows; r0 += kTile) {
    const size_t r1 = std::min(rows, r0 + kTile);
    for (size_t cb = c0; cb < c1; cb += kTile) {
      const size_t ce = std::min(c1, cb + kTile);
      for (size_t r = r0; r < r1; ++r) {
        for (size_t c = cb; c < ce; ++c) {
          out[(c - c0) * rows + r] = convert_one<From, To>(in[r * cols + c]);
        }
      }
    }
  }
}

template <typename From, typename To>
void fill_transposed(const UploadItem& item, size_t first, size_t count, void* out) {
  const size_t rows = item.transpose_rows;
  const size_t cols = item.elements / rows;
  transpose_columns(static_cast<const From*>(item.data), static_cast<To*>(out), rows, cols,
                    first / rows, (first + count) / rows);
}

// What upload() writes to the target for elements [first, first + count)
// of `item` (in the target's order), into `out`; for transposed items
// `first` and `count` are whole target rows.
void fill_staging(const UploadItem& item, size_t first, size_t count, void* out) {
  const size_t host_element = dtype_size(item.host_dtype);
  if (item.transpose_rows == 0) {
    convert_elements(out, item.device_dtype,
                     static_cast<const std::byte*>(item.data) + first * host_element,
                     item.host_dtype, count, dtype_size(item.device_dtype));
    return;
  }
  const bool from_half = host_element == 2;
  const bool to_half = dtype_size(item.device_dtype) == 2;
  if (from_half && to_half) {
    fill_transposed<uint16_t, uint16_t>(item, first, count, out);
  } else if (from_half) {
    fill_transposed<uint16_t, float>(item, first, count, out);
  } else if (to_half) {
    fill_transposed<float, uint16_t>(item, first, count, out);
  } else {
    fill_transposed<float, float>(item, first, count, out);
  }
}

}  // namespace

void upload(Device& device, std::span<const UploadItem> items) {
  std::vector<Piece> pieces;
  for (const UploadItem& item : items) {
    const size_t element = std::max(dtype_size(item.device_dtype), dtype_size(item.host_dtype));
    // A transposed item is cut into whole target rows.
    const size_t unit = item.transpose_rows > 0 ? item.transpose_rows : 1;
    const size_t per_piece = std::max<size_t>(kPieceBytes / element / unit, 1) * unit;
    for (size_t first = 0; first < item.elements; first += per_piece) {
      pieces.push_back({&item, first, std::min(per_piece, item.elements - first)});
    }
  }
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  Allocation staging;
  size_t next = 0;
  while (next < pieces.size()) {
    // One chunk of staging with as many pieces as fit.
    size_t end = next;
    VkDeviceSize bytes = 0;
    std::vector<VkDeviceSize> offsets;
    while (end < pieces.size()) {
      const VkDeviceSize piece_bytes =
          pieces[end].count * dtype_size(pieces[end].item->device_dtype);
      if (end > next && bytes + piece_bytes > kChunkBytes) break;
      offsets.push_back(bytes);
      bytes += piece_bytes;
      ++end;
    }
    if (!staging || staging.size() < bytes) {
      staging.reset();
      staging = device.staging_memory().allocate(std::max(bytes, kChunkBytes), "weight upload");
    }
    kit::parallel_for(end - next, threads, [&](size_t i) {
      const Piece& piece = pieces[next + i];
      fill_staging(*piece.item, piece.first, piece.count, staging.mapped() + offsets[i]);
    });
    device.run_one_shot([&](VkCommandBuffer commands) {
      for (size_t p = next; p < end; ++p) {
        const Piece& piece = pieces[p];
        const size_t device_element = dtype_size(piece.item->device_dtype);
        const VkBufferCopy copy{staging.region().offset + offsets[p - next],
                                piece.item->target.offset + piece.first * device_element,
                                piece.count * device_element};
        vkCmdCopyBuffer(commands, staging.region().buffer, piece.item->target.buffer, 1, &copy);
      }
    });
    next = end;
  }
}

}  // namespace rtscope::vulkan
