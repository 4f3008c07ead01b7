// Host tensors: aligned, reference-counted storage with a dtype and shape.
#include "rtscope/tensor.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "element_access.hpp"
#include "host_memory.hpp"
#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "seeded_random.hpp"

namespace rtscope {
namespace {

using detail::describe_bytes;
using detail::host_memory_bytes;

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

// Bytes of a tensor with non-negative dims, or nullopt when they do not fit
// in 64 bits (or its element count does not fit in int64).
std::optional<uint64_t> exact_bytes(DType dtype, const Shape& shape) {
  const auto count = checked::product<int64_t>(shape);
  if (!count) return std::nullopt;
  return checked::mul<uint64_t>(static_cast<uint64_t>(*count), dtype_size(dtype));
}

std::string describe_tensor(const std::string& what, DType dtype, const Shape& shape) {
  return what + " " + std::string(to_string(dtype)) + shape_to_string(shape);
}

std::shared_ptr<void> allocate(std::size_t bytes, DType dtype, const Shape& shape) {
  // Never allocate zero bytes so an empty tensor is still defined().
  void* memory = nullptr;
  try {
    memory = ::operator new(bytes == 0 ? 1 : bytes, kAlignment);
  } catch (const std::bad_alloc&) {
    throw InputError("cannot allocate " + describe_bytes(bytes) + " for " +
                     describe_tensor("tensor", dtype, shape) +
                     ": out of host memory; use smaller shapes or free memory");
  }
  return std::shared_ptr<void>(memory, [](void* p) { ::operator delete(p, kAlignment); });
}

// At this size zeroed storage comes straight from the kernel: its pages are
// zero already and are only touched when written, so a KV cache sized for
// max_seq costs nothing for the positions a run never reaches.
constexpr std::size_t kZeroPagesFrom = std::size_t{1} << 20;

std::shared_ptr<void> allocate_zeroed(std::size_t bytes, DType dtype, const Shape& shape) {
  if (bytes < kZeroPagesFrom) {
    std::shared_ptr<void> storage = allocate(bytes, dtype, shape);
    std::memset(storage.get(), 0, bytes);
    return storage;
  }
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    throw InputError("cannot allocate " + describe_bytes(bytes) + " for " +
                     describe_tensor("tensor", dtype, shape) +
                     ": out of host memory; use smaller shapes or free memory");
  }
  return std::shared_ptr<void>(memory, [bytes](void* p) { ::munmap(p, bytes); });
}

}  // namespace

int64_t element_count(const Shape& shape) {
  const auto count = checked::product<int64_t>(shape);
  if (!count) {
    throw InputError("tensor shape " + shape_to_string(shape) +
                     " has more elements than fit in 64 bits; check the shape");
  }
  return *count;
}

std::string shape_to_string(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ",";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::size_t tensor_bytes(DType dtype, const Shape& shape, const std::string& what) {
  for (int64_t dim : shape) {
    if (dim < 0) {
      throw InputError(describe_tensor(what, dtype, shape) +
                       " has a negative dimension; dimensions must be >= 0");
    }
  }
  const std::optional<uint64_t> bytes = exact_bytes(dtype, shape);
  if (!bytes) {
    double approximate = static_cast<double>(dtype_size(dtype));
    for (int64_t dim : shape) approximate *= static_cast<double>(dim);
    char text[32];
    std::snprintf(text, sizeof(text), "%.3g", approximate);
    throw InputError(describe_tensor(what, dtype, shape) + " needs " + text +
                     " bytes, more than 2^64 (the size overflows); check the shape");
  }
  const uint64_t limit = host_memory_bytes();
  if (*bytes > limit || *bytes > static_cast<uint64_t>(PTRDIFF_MAX)) {
    throw InputError(describe_tensor(what, dtype, shape) + " needs " + describe_bytes(*bytes) +
                     ", more than this machine's " + describe_bytes(limit) +
                     " of memory (RAM and swap); use smaller shapes");
  }
  return static_cast<std::size_t>(*bytes);
}

// A tensor exists only once tensor_bytes() accepted its shape, so this
// product cannot wrap.
std::size_t Tensor::size_bytes() const {
  return static_cast<std::size_t>(numel()) * dtype_size(dtype_);
}

namespace {

// A host tensor owning storage from `allocate_storage` (allocate or
// allocate_zeroed) of the size tensor_bytes() accepts.
Tensor host_tensor(DType dtype, Shape shape,
                   std::shared_ptr<void> (*allocate_storage)(std::size_t, DType, const Shape&)) {
  check_shape(shape);
  std::shared_ptr<void> storage = allocate_storage(tensor_bytes(dtype, shape), dtype, shape);
  void* data = storage.get();
  return Tensor::wrap(dtype, std::move(shape), data, std::move(storage));
}

}  // namespace

Tensor Tensor::empty(DType dtype, Shape shape) {
  return host_tensor(dtype, std::move(shape), allocate);
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  return host_tensor(dtype, std::move(shape), allocate_zeroed);
}

Tensor Tensor::from_bytes(DType dtype, Shape shape, const void* bytes) {
  Tensor tensor = empty(dtype, std::move(shape));
  if (tensor.size_bytes() > 0) std::memcpy(tensor.data_, bytes, tensor.size_bytes());
  return tensor;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> keep_alive) {
  check_shape(shape);
  // The caller owns the memory; the size check only keeps size_bytes() exact.
  if (!exact_bytes(dtype, shape)) {
    throw InputError(describe_tensor("Tensor::wrap of a", dtype, shape) +
                     " tensor: the size overflows; check the shape");
  }
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
  if (!exact_bytes(dtype, shape)) {
    throw InputError(describe_tensor("device tensor", dtype, shape) +
                     " needs more than 2^64 bytes (the size overflows); check the shape");
  }
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
  if (!device) return zeros(dtype, std::move(shape));  // zero pages, not a memset
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
