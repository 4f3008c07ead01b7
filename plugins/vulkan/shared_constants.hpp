// Constants that engines on one device share. Two engines built from the
// same weights (a decoder and its prefill model, imported from one file or
// made from one template) hand the plugin the same host bytes; each keeping
// its own device copy would double the device memory of the model and,
// measured on an H100, halve the decode step's speed. So an engine's
// constant is looked up by what it is on the device — the host address of
// its bytes, its element count, host and device dtypes and layout — and
// the engine that finds a live copy takes a share of it instead of
// uploading.
//
// The address is a sound key: the host keeps an engine's constants alive
// and unchanged for the engine's lifetime (ConstantDesc), and a lookup only
// finds copies some live engine holds, so the same address still holds
// the same bytes. The first engine to need a constant uploads it and marks
// it written or failed; an engine sharing it waits for that mark before its
// first submit and, after a failure, writes the constant itself.
#pragma once

#include <compare>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "allocator.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

struct ConstantKey {
  const void* data = nullptr;
  size_t elements = 0;
  rts_dtype host_dtype = RTS_DTYPE_F32;
  rts_dtype device_dtype = RTS_DTYPE_F32;
  size_t transpose_rows = 0;  // UploadItem::transpose_rows
  // UploadItem::ones, and the folded gain a weight is scaled by (its host
  // bytes; UploadItem::row_scale holds them in f32).
  bool ones = false;
  const void* scale = nullptr;
  auto operator<=>(const ConstantKey&) const = default;
};

class SharedConstant {
 public:
  explicit SharedConstant(Allocation allocation) : allocation_(std::move(allocation)) {}

  const Allocation& allocation() const { return allocation_; }

  enum class State { pending, written, failed };
  // Called by whoever wrote (or failed to write) the bytes. Thread-safe.
  void mark(State state);
  // Blocks while the bytes are being written by their first engine; true
  // once written, false when that upload failed. Thread-safe.
  bool wait_written() const;

 private:
  Allocation allocation_;
  mutable std::mutex mutex_;
  mutable std::condition_variable marked_;
  State state_ = State::pending;
};

class ConstantPool {
 public:
  struct Share {
    std::shared_ptr<SharedConstant> constant;
    bool created = false;  // true: the caller uploads it, then marks it
  };
  // The live copy of `key`, or a new one in memory from `allocate` (which
  // may throw; nothing is kept then). Thread-safe.
  Share acquire(const ConstantKey& key, const std::function<Allocation()>& allocate);

 private:
  mutable std::mutex mutex_;
  std::map<ConstantKey, std::weak_ptr<SharedConstant>> copies_;
  size_t sweep_at_ = 64;  // drop expired entries once the map reaches this
};

}  // namespace rtscope::vulkan
