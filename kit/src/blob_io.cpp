#include "rtscope/kit/blob_io.hpp"

namespace rtscope::kit {

uint64_t fnv1a(uint64_t hash, const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= kFnvPrime;
  }
  return hash;
}

BlobWriter::BlobWriter(const rts_blob_sink& sink) : sink_(sink) { buffer_.reserve(kBufferSize); }

void BlobWriter::bytes(const void* data, size_t size) {
  hash_ = fnv1a(hash_, data, size);
  if (size >= kBufferSize) {
    flush();
    emit(data, size);
    return;
  }
  if (buffer_.size() + size > kBufferSize) flush();
  const auto* begin = static_cast<const unsigned char*>(data);
  buffer_.insert(buffer_.end(), begin, begin + size);
}

void BlobWriter::string(const std::string& text) {
  scalar<uint64_t>(text.size());
  bytes(text.data(), text.size());
}

void BlobWriter::dims(const Dims& values) {
  scalar<uint32_t>(static_cast<uint32_t>(values.size()));
  bytes(values.data(), values.size() * sizeof(int64_t));
}

void BlobWriter::value(const ValueDesc& desc) {
  string(desc.name);
  scalar<uint32_t>(desc.dtype);
  dims(desc.dims);
  dims(desc.min_dims);
  dims(desc.max_dims);
}

void BlobWriter::finish() {
  const uint64_t hash = hash_;
  bytes(&hash, sizeof(hash));
  flush();
}

void BlobWriter::flush() {
  if (buffer_.empty()) return;
  emit(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void BlobWriter::emit(const void* data, size_t size) {
  const int status = sink_.write(sink_.user, data, size);
  if (status != 0) {
    fail(static_cast<rts_status>(status), "engine blob: the host's sink refused ", size,
         " bytes (status ", status, ")");
  }
}

const unsigned char* BlobReader::take(uint64_t count, const char* what) {
  if (count > size_ - offset_) {
    fail_invalid("engine blob is truncated: ", what, " needs ", count, " bytes at offset ", offset_,
                 " of ", size_);
  }
  const unsigned char* at = data_ + offset_;
  offset_ += count;
  return at;
}

std::string BlobReader::string(const char* what) {
  const uint64_t length = scalar<uint64_t>(what);
  const unsigned char* text = take(length, what);
  return std::string(reinterpret_cast<const char*>(text), length);
}

uint32_t BlobReader::count(const char* what) {
  const uint32_t value = scalar<uint32_t>(what);
  // Every counted item takes at least one byte, so a larger count is
  // corruption, not a reason to reserve gigabytes.
  if (value > size_ - offset_) fail_invalid("engine blob: implausible ", what, " count ", value);
  return value;
}

Dims BlobReader::dims(const char* what) {
  const uint32_t rank = scalar<uint32_t>(what);
  if (rank > RTS_MAX_RANK) fail_invalid("engine blob: ", what, " has rank ", rank);
  Dims values(rank);
  std::memcpy(values.data(), take(rank * sizeof(int64_t), what), rank * sizeof(int64_t));
  return values;
}

ValueDesc BlobReader::value(const char* what) {
  ValueDesc desc;
  desc.name = string(what);
  desc.dtype = static_cast<rts_dtype>(scalar<uint32_t>(what));
  if (dtype_size(desc.dtype) == 0) fail_invalid("engine blob: ", what, " has an unknown dtype");
  desc.dims = dims(what);
  desc.min_dims = dims(what);
  desc.max_dims = dims(what);
  if (desc.min_dims.size() != desc.dims.size() || desc.max_dims.size() != desc.dims.size()) {
    fail_invalid("engine blob: ", what, " '", desc.name, "' has inconsistent ranks");
  }
  return desc;
}

}  // namespace rtscope::kit
