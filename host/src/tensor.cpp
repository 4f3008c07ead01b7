// Host tensors: aligned, reference-counted storage with a dtype and shape.
#include "rtscope/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "element_access.hpp"
#include "rtscope/error.hpp"
#include "seeded_random.hpp"

namespace rtscope {
namespace {

// 64 bytes: a cache line, and enough for every SIMD load width in use.
constexpr std::align_val_t kAlignment{64};

void check_shape(const Shape& shape) {
  for (int64_t dim : shape) {
    if (dim < 0) {
      throw InputError("invalid tensor shape " + shape_to_string(shape) +
                       ": dimensions must be >= 0");
    }
  }
}

std::shared_ptr<void> allocate(std::size_t bytes) {
  // Never allocate zero bytes so an empty tensor is still defined().
  void* memory = ::operator new(bytes == 0 ? 1 : bytes, kAlignment);
  return std::shared_ptr<void>(memory, [](void* p) { ::operator delete(p, kAlignment); });
}

}  // namespace

int64_t element_count(const Shape& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::string shape_to_string(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ",";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::size_t Tensor::size_bytes() const {
  return static_cast<std::size_t>(numel()) * dtype_size(dtype_);
}

Tensor Tensor::empty(DType dtype, Shape shape) {
  check_shape(shape);
  Tensor tensor;
  tensor.dtype_ = dtype;
  tensor.shape_ = std::move(shape);
  tensor.storage_ = allocate(tensor.size_bytes());
  tensor.data_ = tensor.storage_.get();
  return tensor;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor tensor = empty(dtype, std::move(shape));
  std::memset(tensor.data_, 0, tensor.size_bytes());
  return tensor;
}

Tensor Tensor::from_bytes(DType dtype, Shape shape, const void* bytes) {
  Tensor tensor = empty(dtype, std::move(shape));
  if (tensor.size_bytes() > 0) std::memcpy(tensor.data_, bytes, tensor.size_bytes());
  return tensor;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> keep_alive) {
  check_shape(shape);
  if (data == nullptr) {
    throw InputError("Tensor::wrap of a " + std::string(to_string(dtype)) + shape_to_string(shape) +
                     " tensor got a null data pointer");
  }
  Tensor tensor;
  tensor.dtype_ = dtype;
  tensor.shape_ = std::move(shape);
  // Without an owner the caller guarantees the lifetime; a no-op deleter
  // keeps defined() true.
  tensor.storage_ = keep_alive ? std::move(keep_alive) : std::shared_ptr<void>(data, [](void*) {});
  tensor.data_ = data;
  return tensor;
}

Tensor Tensor::random(DType dtype, Shape shape, uint64_t seed, double scale) {
  Tensor tensor = empty(dtype, std::move(shape));
  const uint64_t key = detail::stream_key(seed);
  const int64_t count = tensor.numel();
  if (is_floating(dtype)) {
    for (int64_t i = 0; i < count; ++i) {
      detail::store_element(dtype, tensor.data_, i, detail::random_symmetric(key, i, scale));
    }
  } else {
    // Integers: uniform over the integers 0..int(scale).
    const auto top = static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(scale)));
    for (int64_t i = 0; i < count; ++i) {
      const uint64_t value = detail::random_bits(key, i) % (top + 1);
      detail::store_element(dtype, tensor.data_, i, static_cast<double>(value));
    }
  }
  return tensor;
}

Tensor Tensor::empty_on(std::shared_ptr<const DeviceMemory> device, DType dtype, Shape shape) {
  if (!device) return empty(dtype, std::move(shape));
  check_shape(shape);
  Tensor tensor;
  tensor.dtype_ = dtype;
  tensor.shape_ = std::move(shape);
  // Never zero bytes, so an empty tensor is still defined().
  tensor.storage_ = device->allocate(std::max<std::size_t>(tensor.size_bytes(), 1));
  tensor.data_ = tensor.storage_.get();
  tensor.device_ = std::move(device);
  return tensor;
}

Tensor Tensor::zeros_on(std::shared_ptr<const DeviceMemory> device, DType dtype, Shape shape) {
  Tensor tensor = empty_on(std::move(device), dtype, std::move(shape));
  tensor.zero();
  return tensor;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  if (!on_device()) return from_bytes(dtype_, shape_, data_);
  Tensor copy = empty_on(device_, dtype_, shape_);
  copy.copy_from(*this);
  return copy;
}

Tensor Tensor::to_host() const {
  if (!on_device()) return *this;
  Tensor host = empty(dtype_, shape_);
  if (size_bytes() > 0) device_->copy_to_host(host.data_, data_, size_bytes());
  return host;
}

void Tensor::copy_from(const Tensor& source) {
  if (!defined() || !source.defined()) {
    throw InputError("Tensor::copy_from needs two tensors with storage");
  }
  if (source.dtype_ != dtype_ || source.numel() != numel()) {
    throw InputError("cannot copy a " + std::string(to_string(source.dtype_)) +
                     shape_to_string(source.shape_) + " tensor into a " +
                     std::string(to_string(dtype_)) + shape_to_string(shape_) + " one");
  }
  const std::size_t bytes = size_bytes();
  const bool same_place =
      on_device() == source.on_device() && (!on_device() || device_->same_as(*source.device_));
  if (bytes == 0 || (same_place && source.data_ == data_)) return;
  if (!on_device() && !source.on_device()) {
    std::memcpy(data_, source.data_, bytes);
  } else if (!on_device()) {
    source.device_->copy_to_host(data_, source.data_, bytes);
  } else if (!source.on_device()) {
    device_->copy_to_device(data_, source.data_, bytes);
  } else {
    // Between devices (or within one) through the host.
    const Tensor staged = source.to_host();
    device_->copy_to_device(data_, staged.data_, bytes);
  }
}

void Tensor::zero() {
  if (!defined() || size_bytes() == 0) return;
  if (!on_device()) {
    std::memset(data_, 0, size_bytes());
    return;
  }
  const Tensor zeros = Tensor::zeros(dtype_, shape_);
  device_->copy_to_device(data_, zeros.data_, size_bytes());
}

Tensor Tensor::reshaped(Shape shape) const {
  check_shape(shape);
  if (element_count(shape) != numel()) {
    throw InputError("cannot reshape a " + std::string(to_string(dtype_)) +
                     shape_to_string(shape_) + " tensor (" + std::to_string(numel()) +
                     " elements) to " + shape_to_string(shape) + " (" +
                     std::to_string(element_count(shape)) + " elements)");
  }
  Tensor tensor = *this;
  tensor.shape_ = std::move(shape);
  return tensor;
}

std::vector<double> Tensor::to_doubles() const {
  if (on_device()) return to_host().to_doubles();
  std::vector<double> values(static_cast<std::size_t>(defined() ? numel() : 0));
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = detail::load_element(dtype_, data_, static_cast<int64_t>(i));
  }
  return values;
}

}  // namespace rtscope
