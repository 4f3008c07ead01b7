// Device memory the host holds through device_alloc: tensors that stay on
// the GPU between executes, such as a model's KV caches. The pointer the
// host gets is the address of an entry here, opaque to the host and looked
// up (never trusted) on every use: binding it to an execute resolves it to
// its buffer range, so it is read and written in place with no staging.
//
// Bytes are the tensor's own (host) representation: on a device that stores
// f16 as f32 (no 16-bit storage) an f16 binding goes through a host shadow
// (device_shadows.hpp) instead of being used in place.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "allocator.hpp"
#include "buffer.hpp"

namespace rtscope::vulkan {

class Device;

class DeviceTensors {
 public:
  explicit DeviceTensors(Device& device) : device_(device) {}
  // Every handle should be freed first; the rest is released here.
  ~DeviceTensors();
  DeviceTensors(const DeviceTensors&) = delete;
  DeviceTensors& operator=(const DeviceTensors&) = delete;

  // Device-local memory of at least `bytes`. Throws Error. Thread-safe.
  void* allocate(uint64_t bytes);
  // False when `handle` is not a live allocation. Thread-safe.
  bool free(void* handle);
  // The range of a live allocation, or nothing. Thread-safe.
  std::optional<BufferRegion> find(const void* handle) const;
  // Copies `bytes` between `host` and the allocation through the staging
  // memory, in chunks, waiting for the device. Throws Error naming the
  // problem (unknown handle, range beyond the allocation). Thread-safe.
  void copy(const void* handle, void* host, uint64_t bytes, bool to_device);

  uint64_t live() const;

 private:
  Device& device_;
  mutable std::mutex mutex_;
  std::map<const void*, std::unique_ptr<Allocation>> entries_;
};

}  // namespace rtscope::vulkan
