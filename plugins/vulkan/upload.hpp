// Uploading constants (weights) into device-local memory at engine build:
// through host-visible staging in chunks, so a model larger than the
// staging block never needs one huge host-visible allocation. The staging
// chunks are filled straight from the constants' bytes (a memory-mapped
// checkpoint, say) on all cores, converting dtypes and transposing on the
// way, so the upload makes no host copy of the model.
#pragma once

#include <cstddef>
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
  // Non-zero: `data` is a [rows, elements / rows] row-major matrix that the
  // target holds transposed ([elements / rows, rows]).
  size_t transpose_rows = 0;
};

// Copies every item to its target and waits for the device. Throws Error.
void upload(Device& device, std::span<const UploadItem> items);

}  // namespace rtscope::vulkan
