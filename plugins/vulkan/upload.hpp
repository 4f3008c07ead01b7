// Uploading constants (weights) into device-local memory at engine build.
// Two paths, chosen per item by where its target lives:
//  - direct: the target is device-local memory the host can map (resizable
//    BAR on a discrete GPU, or unified memory): every core writes the
//    weights straight into it, no staging and no transfer;
//  - staged: through a ring of host-visible staging chunks, so a model
//    larger than the staging never needs one huge host-visible allocation,
//    and the cores fill chunk i + 1 while the device copies chunk i.
// Either way the bytes come straight from the constants (a memory-mapped
// checkpoint, say), converting dtypes and transposing on the way, so the
// upload makes no host copy of the model.
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "buffer.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

class Device;

struct UploadItem {
  const void* data = nullptr;
  size_t elements = 0;
  rts_dtype host_dtype = RTS_DTYPE_F32;    // how `data` is stored
  rts_dtype device_dtype = RTS_DTYPE_F32;  // how `target` stores it
  BufferRegion target;
  // The host address of `target` when it is host-visible, coherent memory
  // (the direct path); nullptr: staged.
  std::byte* mapped = nullptr;
  // Non-zero: `data` is a [rows, elements / rows] row-major matrix that the
  // target holds transposed ([elements / rows, rows]).
  size_t transpose_rows = 0;
  // Written as ones whatever `data` holds (a folded norm gain,
  // Engine::fold_norm_gains).
  bool ones = false;
  // With transpose_rows: source row r is multiplied by row_scale[r] (a
  // folded norm gain, one per row) before it is converted.
  const float* row_scale = nullptr;
};

// How constants reach the device; read once per device from the
// environment (plugins/vulkan/README.md, "Uploads").
struct UploadOptions {
  enum class Mode {
    automatic,  // direct when the device maps (nearly) all its memory, else staged
    staged,     // always through staging chunks
    direct,     // into host-visible device-local memory wherever it fits
  };
  Mode mode = Mode::automatic;  // RTSCOPE_VULKAN_UPLOAD=auto|staged|direct
  // Staging chunks in flight (RTSCOPE_VULKAN_UPLOAD_RING); 1 fills and
  // copies in turn, without overlap.
  uint32_t ring = 4;
  // Bytes per staging chunk (RTSCOPE_VULKAN_UPLOAD_CHUNK_MB).
  VkDeviceSize chunk_bytes = VkDeviceSize{16} << 20;
  // The upload runs on a thread of its own after the engine build returns,
  // overlapping the context's pipelines and first plan; the first submit
  // waits for it (upload_thread.hpp). RTSCOPE_VULKAN_UPLOAD_OVERLAP=0
  // finishes it inside the build instead.
  bool overlap = true;
  // Engines on one device share the device copy of identical constants
  // (shared_constants.hpp); RTSCOPE_VULKAN_SHARE_CONSTANTS=0 gives each
  // engine its own, for A/B runs.
  bool share = true;

  // Throws Error naming the variable and its valid values.
  static UploadOptions from_environment();
};

// Where the time of one upload went, for the plugin's start-up counters.
struct UploadStats {
  uint64_t staging_alloc_ns = 0;  // allocating the staging ring
  uint64_t fill_ns =
      0;  // after that allocation, until every item is written (in place or to staging)
  uint64_t drain_ns = 0;  // after that, until the device finished copying
  // Time a filling core waited for a free staging chunk, averaged over
  // the cores: the transfer was the bottleneck for that long.
  uint64_t stall_ns = 0;
  uint64_t direct_bytes = 0;
  uint64_t staged_bytes = 0;
  uint64_t chunks = 0;  // staging chunks submitted
};

// Copies every item to its target and waits for the device. Throws Error.
UploadStats upload(Device& device, std::span<const UploadItem> items, const UploadOptions& options);

}  // namespace rtscope::vulkan
