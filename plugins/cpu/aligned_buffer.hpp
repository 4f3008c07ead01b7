// A grow-only, cache-line aligned byte buffer. Contexts keep their
// intermediates in these so that repeated executes reuse the same memory.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

namespace rtscope::cpu {

class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) { reserve(bytes); }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Makes room for `bytes`; existing contents are not preserved on growth.
  void reserve(size_t bytes) {
    if (bytes <= capacity_) return;
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* fresh = std::aligned_alloc(kAlignment, rounded);
    if (fresh == nullptr) throw std::bad_alloc();
    std::free(data_);
    data_ = fresh;
    capacity_ = rounded;
  }

  void* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace rtscope::cpu
