// Byte-level engine blob primitives: a hashing writer that streams to the
// host's rts_blob_sink, a bounds-checked reader, and the FNV-1a checksum
// both use. Integers are written in the machine's byte order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "rtscope/kit/error.hpp"
#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ull;

// Continues the 64-bit FNV-1a hash `hash` over `size` bytes.
uint64_t fnv1a(uint64_t hash, const void* data, size_t size);
// The 64-bit FNV-1a hash of `size` bytes: the checksum of every record a
// backend stores in the runtime cache.
inline uint64_t fnv1a(const void* data, size_t size) { return fnv1a(kFnvOffset, data, size); }

// Buffers small fields and streams large ones (constants) to the sink,
// hashing everything it writes.
class BlobWriter {
 public:
  explicit BlobWriter(const rts_blob_sink& sink);

  void bytes(const void* data, size_t size);
  template <typename T>
  void scalar(T value) {
    bytes(&value, sizeof(value));
  }
  void string(const std::string& text);
  void dims(const Dims& values);
  void value(const ValueDesc& desc);
  // A u32 count, then `write_one(item)` for each item.
  template <typename T, typename WriteOne>
  void list(const std::vector<T>& items, WriteOne write_one) {
    scalar<uint32_t>(static_cast<uint32_t>(items.size()));
    for (const T& item : items) write_one(item);
  }
  // Writes the checksum of everything so far, then flushes.
  void finish();

 private:
  static constexpr size_t kBufferSize = 64 * 1024;

  void flush();
  void emit(const void* data, size_t size);

  const rts_blob_sink& sink_;
  std::vector<unsigned char> buffer_;
  uint64_t hash_ = kFnvOffset;
};

// Reads fields back; every read is bounds-checked and a short or
// implausible field throws Error naming `what`.
class BlobReader {
 public:
  BlobReader(const void* data, uint64_t size)
      : data_(static_cast<const unsigned char*>(data)), size_(size) {}

  const unsigned char* take(uint64_t count, const char* what);
  template <typename T>
  T scalar(const char* what) {
    T value;
    std::memcpy(&value, take(sizeof(T), what), sizeof(T));
    return value;
  }
  std::string string(const char* what);
  // A u32 element count, rejected if larger than the bytes left.
  uint32_t count(const char* what);
  Dims dims(const char* what);
  ValueDesc value(const char* what);
  // A count (named `what`), then that many items of `read_one()`.
  template <typename ReadOne>
  auto list(const char* what, ReadOne read_one) {
    std::vector<decltype(read_one())> items;
    for (uint32_t n = count(what); n > 0; --n) items.push_back(read_one());
    return items;
  }
  uint64_t offset() const { return offset_; }

 private:
  const unsigned char* data_;
  uint64_t size_;
  uint64_t offset_ = 0;
};

}  // namespace rtscope::kit
