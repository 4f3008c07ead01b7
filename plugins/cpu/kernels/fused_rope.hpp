// Rope fused with the data movement around it (fusion.hpp): rope written
// straight in the heads-major [B, H, S, D] layout, or straight into the
// rows of a KV cache [B, H, L, D] at each batch row's position. The
// rotation is the rope op's (rotate-half, angles in double), so a fused
// and an unfused step give the same floats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kit_names.hpp"

namespace rtscope::cpu {

class ThreadPool;

// cos and sin of every (position, frequency) for positions [0, capacity)
// of one (base, head_dim). Rows are filled on first use, from position 0
// up, so a decode step computes one new row at most. Not thread-safe:
// used by the execute thread of one context (before any pool split).
class RopeTable {
 public:
  RopeTable(double base, int64_t head_dim, int64_t capacity);

  double base() const { return base_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t capacity() const { return capacity_; }
  // Only before first use.
  void grow(int64_t capacity);

  // Makes rows [0, end) valid where they lie below capacity().
  void fill(int64_t end);
  // (cos, sin) pairs of `position`, half-dim of them; nullptr outside
  // [0, capacity()) or beyond what fill() made valid.
  const float* row(int64_t position) const {
    return position >= 0 && position < filled_
               ? cos_sin_.data() + static_cast<size_t>(position * half_ * 2)
               : nullptr;
  }
  // The same pairs computed for any position into `pairs` (half-dim of
  // them).
  void compute(int64_t position, float* pairs) const;

 private:
  double base_;
  int64_t head_dim_;
  int64_t half_;
  int64_t capacity_;
  int64_t filled_ = 0;
  std::vector<double> inv_freq_;
  std::vector<float> cos_sin_;
};

// One fused rope call, every pointer and size resolved.
struct FusedRopeArgs {
  const float* x = nullptr;  // [B, S, H, D]
  const int64_t* pos = nullptr;
  int64_t pos_count = 1;  // 1: every batch row at pos[0]; B: row b at pos[b]
  float* out = nullptr;   // [B, H, out_seq, D]
  int64_t batch = 0, seq = 0, heads = 0, head_dim = 0;
  int64_t out_seq = 0;  // S (to heads) or L (into the cache)
  bool into_cache = false;
  // Into the cache: the cache input, copied into `out` first when the
  // output does not already live in it.
  const void* cache = nullptr;
  size_t cache_bytes = 0;
  RopeTable* table = nullptr;
  ThreadPool* pool = nullptr;
  const NodeDesc* node = nullptr;  // named in errors (the kv_cache_update)
};

// Throws Error naming `node` when a position does not fit the cache.
void run_fused_rope(const FusedRopeArgs& args);

}  // namespace rtscope::cpu
