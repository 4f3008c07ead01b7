// Uploading constants (weights) into device-local memory at engine build:
// through host-visible staging in chunks, so a model larger than the
// staging block never needs one huge host-visible allocation.
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
};

// Copies every item to its target and waits for the device. Throws Error.
void upload(Device& device, std::span<const UploadItem> items);

}  // namespace rtscope::vulkan
