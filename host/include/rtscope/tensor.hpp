// Tensor: dtype, concrete shape and reference-counted storage, on the host
// or on a plugin device.
//
// Storage is shared between copies of a Tensor (copying a Tensor is cheap
// and aliases the same bytes); use clone() for a deep copy. A device tensor
// (on_device()) holds memory from a plugin's device_alloc: its data() is an
// opaque device pointer, never dereferenced on the host; read it with
// to_host() or to_doubles().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rtscope/device_memory.hpp"
#include "rtscope/dtype.hpp"

namespace rtscope {

using Shape = std::vector<int64_t>;

// Elements in `shape`; throws InputError when the count does not fit in
// int64 (a shape read from a file can ask for any number).
int64_t element_count(const Shape& shape);
std::string shape_to_string(const Shape& shape);
// Bytes of a `dtype` tensor of `shape`, computed without wrapping around.
// Throws InputError naming `what` (e.g. "weight 'w'"), the dtype and shape
// and the bytes asked for when a dimension is negative, the size overflows
// or it is more than this machine's memory (RAM and swap) could ever hold.
std::size_t tensor_bytes(DType dtype, const Shape& shape, const std::string& what = "tensor");

class Tensor {
 public:
  Tensor() = default;

  // Uninitialized storage, 64-byte aligned. An impossible size or a failed
  // allocation throws InputError naming the dtype, shape and bytes (see
  // tensor_bytes()), never std::bad_alloc.
  static Tensor empty(DType dtype, Shape shape);
  static Tensor zeros(DType dtype, Shape shape);
  // Copies `bytes` (must be element_count(shape) * dtype_size(dtype) long).
  static Tensor from_bytes(DType dtype, Shape shape, const void* bytes);
  // Wraps memory owned elsewhere; `keep_alive` holds it while the tensor lives.
  static Tensor wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> keep_alive);
  // Seeded uniform values in [-scale, scale] (integers: [0, int(scale)]).
  static Tensor random(DType dtype, Shape shape, uint64_t seed, double scale = 1.0);
  // Uninitialized / zeroed storage on a plugin device.
  static Tensor empty_on(std::shared_ptr<const DeviceMemory> device, DType dtype, Shape shape);
  static Tensor zeros_on(std::shared_ptr<const DeviceMemory> device, DType dtype, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return element_count(shape_); }
  std::size_t size_bytes() const;
  bool defined() const { return storage_ != nullptr; }
  bool on_device() const { return device_ != nullptr; }
  // The device holding the storage; null for a host tensor.
  const std::shared_ptr<const DeviceMemory>& device_memory() const { return device_; }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* data_as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data_);
  }

  // A deep copy with the same residency.
  Tensor clone() const;
  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // A host copy of a device tensor; a host tensor returns itself (shared).
  Tensor to_host() const;
  // Copies `source`'s bytes into this tensor's storage, whatever the two
  // residencies. Dtype and element count must match (throws InputError).
  void copy_from(const Tensor& source);
  // Sets every byte of the storage to zero, in place.
  void zero();

  // Values as double, whatever the dtype (f16 decoded) and residency.
  std::vector<double> to_doubles() const;

 private:
  DType dtype_ = DType::f32;
  Shape shape_;
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  std::shared_ptr<const DeviceMemory> device_;  // null: host memory
};

}  // namespace rtscope
