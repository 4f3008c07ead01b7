#include "upload.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "allocator.hpp"
#include "device.hpp"
#include "error.hpp"
#include "half.hpp"
#include "rtscope/kit/elapsed.hpp"
#include "rtscope/kit/parallel_for.hpp"
#include "whole_number.hpp"

namespace rtscope::vulkan {
namespace {

using Clock = std::chrono::steady_clock;

using kit::ns_between;

// Pieces are cut to at most this much so that every core gets work within
// one staging chunk (page faults on a freshly mapped file included).
constexpr size_t kPieceBytes = size_t{1} << 20;
constexpr VkDeviceSize kPieceAlignment = 64;

struct Piece {
  const UploadItem* item;
  size_t first;  // element range of the item, in the target's order
  size_t count;
  size_t chunk = 0;         // staged: the chunk it goes out with
  VkDeviceSize offset = 0;  // staged: where in that chunk
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

// `value` times `scale`, rounded once to the target type (a weight scaled
// by a folded norm gain).
template <typename From, typename To>
To scaled(From value, float scale) {
  const float product = convert_one<From, float>(value) * scale;
  return convert_one<float, To>(product);
}

// Source columns [c0, c1) of a [rows, cols] matrix as target rows
// (target[c][r] = source[r][c], times row_scale[r] when it is set), in
// 64 x 64 tiles so that reads and writes both stay within cache lines.
template <typename From, typename To>
void transpose_columns(const From* in, To* out, size_t rows, size_t cols, size_t c0, size_t c1,
                       const float* row_scale) {
  constexpr size_t kTile = 64;
  for (size_t r0 = 0; r0 < rows; r0 += kTile) {
    const size_t r1 = std::min(rows, r0 + kTile);
    for (size_t cb = c0; cb < c1; cb += kTile) {
      const size_t ce = std::min(c1, cb + kTile);
      for (size_t r = r0; r < r1; ++r) {
        if (row_scale != nullptr) {
          for (size_t c = cb; c < ce; ++c) {
            out[(c - c0) * rows + r] = scaled<From, To>(in[r * cols + c], row_scale[r]);
          }
        } else {
          for (size_t c = cb; c < ce; ++c) {
            out[(c - c0) * rows + r] = convert_one<From, To>(in[r * cols + c]);
          }
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
                    first / rows, (first + count) / rows, item.row_scale);
}

// What upload() writes to the target for elements [first, first + count)
// of `item` (in the target's order), into `out`; for transposed items
// `first` and `count` are whole target rows.
void fill(const UploadItem& item, size_t first, size_t count, void* out) {
  const size_t host_element = dtype_size(item.host_dtype);
  if (item.ones) {
    const size_t element = dtype_size(item.device_dtype);
    const float value = 1.0f;
    std::byte one[sizeof(float)];
    convert_elements(one, item.device_dtype, &value, RTS_DTYPE_F32, 1, sizeof(float));
    for (size_t i = 0; i < count; ++i) {
      std::memcpy(static_cast<std::byte*>(out) + i * element, one, element);
    }
    return;
  }
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

// Orders the copies before anything later on the queue reads or writes
// the constants (a fence wait on the host alone does not).
void copies_done_barrier(VkCommandBuffer commands) {
  VkMemoryBarrier memory{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT,
                         VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                             VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
  vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                       &memory, 0, nullptr, 0, nullptr);
}

// `slots` staging chunks, each with its own command buffer and fence, so
// that several copies are in flight while the host fills the next chunk.
class StagingRing {
 public:
  StagingRing(Device& device, uint32_t slots, VkDeviceSize slot_bytes)
      : device_(device),
        slot_bytes_(slot_bytes),
        commands_(slots),
        fences_(slots, VK_NULL_HANDLE),
        pending_(slots, false) {
    try {
      staging_ = device.staging_memory().allocate(slot_bytes * slots, "weight upload staging");
      auto pool_info =
          vk_struct<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
      pool_info.flags =
          VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT | VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
      pool_info.queueFamilyIndex = device.caps().queue_family;
      check_vk(vkCreateCommandPool(device.handle(), &pool_info, nullptr, &pool_),
               "vkCreateCommandPool (weight upload)");
      auto buffer_info =
          vk_struct<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
      buffer_info.commandPool = pool_;
      buffer_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      buffer_info.commandBufferCount = slots;
      check_vk(vkAllocateCommandBuffers(device.handle(), &buffer_info, commands_.data()),
               "vkAllocateCommandBuffers (weight upload)");
      auto fence_info = vk_struct<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
      for (VkFence& fence : fences_) {
        check_vk(vkCreateFence(device.handle(), &fence_info, nullptr, &fence),
                 "vkCreateFence (weight upload)");
      }
    } catch (...) {
      release();
      throw;
    }
  }
  ~StagingRing() { release(); }
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  uint32_t slots() const { return static_cast<uint32_t>(fences_.size()); }
  std::byte* slot_memory(uint32_t slot) const { return staging_.mapped() + slot * slot_bytes_; }

  // Copies `pieces` (all in `slot`) to their targets, without waiting.
  void submit(uint32_t slot, std::span<const Piece> pieces) {
    VkCommandBuffer commands = commands_[slot];
    auto begin = vk_struct<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check_vk(vkBeginCommandBuffer(commands, &begin), "vkBeginCommandBuffer (weight upload)");
    const VkDeviceSize base = staging_.region().offset + slot * slot_bytes_;
    for (const Piece& piece : pieces) {
      const size_t element = dtype_size(piece.item->device_dtype);
      const VkBufferCopy copy{base + piece.offset,
                              piece.item->target.offset + piece.first * element,
                              piece.count * element};
      vkCmdCopyBuffer(commands, staging_.region().buffer, piece.item->target.buffer, 1, &copy);
    }
    copies_done_barrier(commands);
    check_vk(vkEndCommandBuffer(commands), "vkEndCommandBuffer (weight upload)");
    check_vk(vkResetFences(device_.handle(), 1, &fences_[slot]), "vkResetFences (weight upload)");
    device_.submit(commands, fences_[slot]);
    pending_[slot] = true;
  }

  // Waits until the copies of `slot` are done; its memory may be refilled.
  void wait(uint32_t slot) {
    if (!pending_[slot]) return;
    device_.wait(fences_[slot], std::chrono::microseconds(0));
    pending_[slot] = false;
  }

 private:
  void release() {
    if (pool_ == VK_NULL_HANDLE && fences_.empty()) return;
    // After a failure, copies may still be reading the staging memory.
    for (uint32_t slot = 0; slot < fences_.size(); ++slot) {
      if (pending_[slot]) vkWaitForFences(device_.handle(), 1, &fences_[slot], VK_TRUE, UINT64_MAX);
    }
    for (VkFence fence : fences_) {
      if (fence != VK_NULL_HANDLE) vkDestroyFence(device_.handle(), fence, nullptr);
    }
    fences_.clear();
    if (pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device_.handle(), pool_, nullptr);
    pool_ = VK_NULL_HANDLE;
    staging_.reset();
  }

  Device& device_;
  VkDeviceSize slot_bytes_;
  Allocation staging_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::vector<VkCommandBuffer> commands_;
  std::vector<VkFence> fences_;
  std::vector<bool> pending_;
};

// The staged half of an upload: the filling cores and the thread that
// submits each chunk once it is full and hands its slot back once the
// device has copied it. Chunk c goes through slot c % slots, so filling
// chunk c waits for chunk c - slots to be copied.
class StagedPipeline {
 public:
  StagedPipeline(StagingRing& ring, std::span<const Piece> pieces, size_t chunks)
      : ring_(ring), pieces_(pieces), remaining_(chunks), filled_(chunks, false) {
    for (const Piece& piece : pieces_) ++remaining_[piece.chunk];
    if (chunks > 0) submitter_ = std::thread([this] { submit_all(); });
  }
  ~StagedPipeline() {
    if (submitter_.joinable()) {
      abandon();
      submitter_.join();
    }
  }

  // Writes staged piece `index` into its chunk, waiting for a free slot
  // first. Returns the time it waited.
  uint64_t fill_piece(size_t index) {
    const Piece& piece = pieces_[index];
    const uint32_t slots = ring_.slots();
    uint64_t waited = 0;
    if (piece.chunk >= slots) {
      std::unique_lock lock(mutex_);
      if (retired_ + slots <= piece.chunk) {
        const auto start = Clock::now();
        changed_.wait(lock, [&] { return failed_ || retired_ + slots > piece.chunk; });
        waited = ns_between(start, Clock::now());
      }
      if (failed_) return waited;
    }
    try {
      fill(*piece.item, piece.first, piece.count,
           ring_.slot_memory(static_cast<uint32_t>(piece.chunk % slots)) + piece.offset);
    } catch (...) {
      abandon();  // the chunk will never be full: nobody may wait for it
      throw;
    }
    std::lock_guard lock(mutex_);
    if (--remaining_[piece.chunk] == 0) {
      filled_[piece.chunk] = true;
      changed_.notify_all();
    }
    return waited;
  }

  // Stops the submitter early (a fill failed); finish() then returns.
  void abandon() {
    std::lock_guard lock(mutex_);
    failed_ = true;
    changed_.notify_all();
  }

  // Waits for the submitter, which waits for the device; rethrows its
  // failure.
  void finish() {
    if (submitter_.joinable()) submitter_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void submit_all() {
    const size_t chunks = filled_.size();
    const uint32_t slots = ring_.slots();
    size_t first = 0;  // the first piece of the chunk being submitted
    try {
      for (size_t chunk = 0; chunk < chunks; ++chunk) {
        {
          std::unique_lock lock(mutex_);
          changed_.wait(lock, [&] { return failed_ || filled_[chunk]; });
          if (failed_) return;
        }
        size_t end = first;
        while (end < pieces_.size() && pieces_[end].chunk == chunk) ++end;
        ring_.submit(static_cast<uint32_t>(chunk % slots), pieces_.subspan(first, end - first));
        first = end;
        // The next chunk needs the slot the oldest copy in flight uses.
        if (chunk + 1 >= slots && chunk + 1 < chunks) retire(chunk + 1 - slots);
      }
      for (size_t chunk = chunks > slots ? chunks - slots : 0; chunk < chunks; ++chunk) {
        retire(chunk);
      }
    } catch (...) {
      error_ = std::current_exception();
      abandon();
    }
  }

  void retire(size_t chunk) {
    ring_.wait(static_cast<uint32_t>(chunk % ring_.slots()));
    std::lock_guard lock(mutex_);
    retired_ = chunk + 1;
    changed_.notify_all();
  }

  StagingRing& ring_;
  std::span<const Piece> pieces_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<size_t> remaining_;  // pieces of each chunk not yet written
  std::vector<bool> filled_;
  size_t retired_ = 0;  // chunks [0, retired_) are copied: their slots are free
  bool failed_ = false;
  std::exception_ptr error_;
  std::thread submitter_;
};

uint64_t parse_count(const char* name, uint64_t fallback, uint64_t low, uint64_t high) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  const std::optional<uint64_t> parsed = parse_whole_number(value, low, high);
  if (!parsed) {
    fail_invalid(name, "='", value, "': expected a whole number from ", low, " to ", high);
  }
  return *parsed;
}

}  // namespace

UploadOptions UploadOptions::from_environment() {
  UploadOptions options;
  if (const char* mode = std::getenv("RTSCOPE_VULKAN_UPLOAD"); mode != nullptr && *mode != '\0') {
    const std::string text(mode);
    if (text == "auto") {
      options.mode = Mode::automatic;
    } else if (text == "staged") {
      options.mode = Mode::staged;
    } else if (text == "direct") {
      options.mode = Mode::direct;
    } else {
      fail_invalid("RTSCOPE_VULKAN_UPLOAD='", text, "': expected auto, staged or direct");
    }
  }
  options.ring =
      static_cast<uint32_t>(parse_count("RTSCOPE_VULKAN_UPLOAD_RING", options.ring, 1, 64));
  options.chunk_bytes =
      parse_count("RTSCOPE_VULKAN_UPLOAD_CHUNK_MB", options.chunk_bytes >> 20, 1, 1024) << 20;
  options.overlap = parse_count("RTSCOPE_VULKAN_UPLOAD_OVERLAP", 1, 0, 1) == 1;
  options.share = parse_count("RTSCOPE_VULKAN_SHARE_CONSTANTS", 1, 0, 1) == 1;
  return options;
}

UploadStats upload(Device& device, std::span<const UploadItem> items,
                   const UploadOptions& options) {
  UploadStats stats;
  // Staged pieces first, in chunk order, then the direct ones: the direct
  // writes then overlap the last copies.
  std::vector<Piece> pieces;
  std::vector<Piece> direct;
  size_t chunks = 0;
  VkDeviceSize chunk_used = 0;
  VkDeviceSize slot_bytes = options.chunk_bytes;
  for (const UploadItem& item : items) {
    const size_t element = std::max(dtype_size(item.device_dtype), dtype_size(item.host_dtype));
    // A transposed item is cut into whole target rows.
    const size_t unit = item.transpose_rows > 0 ? item.transpose_rows : 1;
    const size_t per_piece = std::max<size_t>(kPieceBytes / element / unit, 1) * unit;
    const size_t device_element = dtype_size(item.device_dtype);
    for (size_t first = 0; first < item.elements; first += per_piece) {
      Piece piece{&item, first, std::min(per_piece, item.elements - first)};
      const VkDeviceSize bytes = piece.count * device_element;
      if (item.mapped != nullptr) {
        direct.push_back(piece);
        stats.direct_bytes += bytes;
        continue;
      }
      // Pieces start on cache lines (an odd-sized tensor ends anywhere).
      // A piece larger than a chunk (one huge transposed row) gets a
      // chunk of its own, and every slot grows to hold it.
      VkDeviceSize offset = (chunk_used + kPieceAlignment - 1) / kPieceAlignment * kPieceAlignment;
      if (chunks == 0 || offset + bytes > options.chunk_bytes) {
        ++chunks;
        offset = 0;
      }
      piece.chunk = chunks - 1;
      piece.offset = offset;
      chunk_used = offset + bytes;
      slot_bytes = std::max(slot_bytes, chunk_used);
      stats.staged_bytes += bytes;
      pieces.push_back(piece);
    }
  }
  const size_t staged_count = pieces.size();
  pieces.insert(pieces.end(), direct.begin(), direct.end());

  std::unique_ptr<StagingRing> ring;
  if (chunks > 0) {
    const auto ring_start = Clock::now();
    const auto slots = static_cast<uint32_t>(std::min<size_t>(options.ring, chunks));
    ring = std::make_unique<StagingRing>(device, slots, slot_bytes);
    stats.staging_alloc_ns = ns_between(ring_start, Clock::now());
  }
  std::unique_ptr<StagedPipeline> pipeline;
  if (ring) {
    pipeline = std::make_unique<StagedPipeline>(
        *ring, std::span<const Piece>(pieces).first(staged_count), chunks);
  }
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<uint64_t> stalled{0};
  const auto fill_start = Clock::now();
  try {
    kit::parallel_for(pieces.size(), threads, [&](size_t index) {
      if (index < staged_count) {
        stalled.fetch_add(pipeline->fill_piece(index), std::memory_order_relaxed);
        return;
      }
      const Piece& piece = pieces[index];
      fill(*piece.item, piece.first, piece.count,
           piece.item->mapped + piece.first * dtype_size(piece.item->device_dtype));
    });
  } catch (...) {
    pipeline.reset();  // stops and joins the submitter; the ring waits for the device
    throw;
  }
  const auto filled = Clock::now();
  stats.fill_ns = ns_between(fill_start, filled);
  if (pipeline) pipeline->finish();
  stats.drain_ns = ns_between(filled, Clock::now());
  stats.stall_ns = stalled.load() / std::min<uint64_t>(threads, std::max<size_t>(pieces.size(), 1));
  stats.chunks = chunks;
  return stats;
}

}  // namespace rtscope::vulkan
