#include "kernels/fused_rope.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rtscope/kit/op_attrs.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {

RopeTable::RopeTable(double base, int64_t head_dim, int64_t capacity)
    : base_(base), head_dim_(head_dim), half_(head_dim / 2), capacity_(0) {
  inv_freq_.resize(static_cast<size_t>(half_));
  for (int64_t i = 0; i < half_; ++i) {
    inv_freq_[i] = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  }
  grow(capacity);
}

void RopeTable::grow(int64_t capacity) {
  if (capacity <= capacity_) return;
  capacity_ = capacity;
  cos_sin_.resize(static_cast<size_t>(capacity_ * half_ * 2));
}

void RopeTable::compute(int64_t position, float* pairs) const {
  for (int64_t i = 0; i < half_; ++i) {
    const double theta = static_cast<double>(position) * inv_freq_[i];
    pairs[i * 2] = static_cast<float>(std::cos(theta));
    pairs[i * 2 + 1] = static_cast<float>(std::sin(theta));
  }
}

void RopeTable::fill(int64_t end) {
  end = std::min(end, capacity_);
  for (; filled_ < end; ++filled_) {
    compute(filled_, cos_sin_.data() + static_cast<size_t>(filled_ * half_ * 2));
  }
}

namespace {

void rotate_row(const float* src, float* dst, const float* pairs, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float cos_theta = pairs[i * 2];
    const float sin_theta = pairs[i * 2 + 1];
    const float first = src[i];
    const float second = src[i + half];
    dst[i] = first * cos_theta - second * sin_theta;
    dst[i + half] = second * cos_theta + first * sin_theta;
  }
}

int64_t position_of(const FusedRopeArgs& args, int64_t b) {
  return args.pos[args.pos_count == 1 ? 0 : b];
}

}  // namespace

void run_fused_rope(const FusedRopeArgs& args) {
  const int64_t half = args.head_dim / 2;
  int64_t first = INT64_MAX;
  int64_t end = INT64_MIN;
  for (int64_t b = 0; b < args.batch; ++b) {
    const int64_t pos = position_of(args, b);
    if (args.into_cache && (pos < 0 || pos > args.out_seq - args.seq)) {
      // The unfused kv_cache_update's words (attention.cpp), so the error
      // reads the same with fusion on or off.
      fail_node(*args.node, "pos[", b, "] = ", pos, " + ", args.seq, " steps exceeds cache length ",
                args.out_seq, "; positions must lie in [0, cache length - steps]");
    }
    first = std::min(first, pos);
    end = std::max(end, pos + args.seq);
  }
  if (args.into_cache && args.out != args.cache && args.cache_bytes > 0) {
    std::memcpy(args.out, args.cache, args.cache_bytes);
  }
  if (args.batch == 0 || args.seq == 0 || half == 0) return;
  if (first >= 0) args.table->fill(end);

  const int64_t rows = args.batch * args.seq * args.heads;  // input rows, [B, S, H] order
  const RopeTable& table = *args.table;
  args.pool->parallel_for(rows, rows_per_task(args.head_dim), [&](int64_t begin, int64_t stop) {
    // Positions beyond the table (no cache bounds them) are computed here.
    thread_local std::vector<float> computed;
    for (int64_t row = begin; row < stop; ++row) {
      const int64_t h = row % args.heads;
      const int64_t s = (row / args.heads) % args.seq;
      const int64_t b = row / (args.heads * args.seq);
      const int64_t position = position_of(args, b) + s;
      const float* pairs = table.row(position);
      if (pairs == nullptr) {
        computed.resize(static_cast<size_t>(half * 2));
        table.compute(position, computed.data());
        pairs = computed.data();
      }
      const int64_t out_row =
          (b * args.heads + h) * args.out_seq + (args.into_cache ? position_of(args, b) : 0) + s;
      rotate_row(args.x + row * args.head_dim, args.out + out_row * args.head_dim, pairs, half);
    }
  });
}

}  // namespace rtscope::cpu
