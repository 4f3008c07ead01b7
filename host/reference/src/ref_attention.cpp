// Reference kernels of rope, causal (grouped-query) attention over a KV
// cache, and kv_cache_update. Batch row b runs at pos[b] (pos [B]) or at
// pos[0] (pos [1]).
#include <algorithm>
#include <cmath>
#include <string>

#include "ref_ops.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {
namespace {

void check_fits(std::string_view op, int64_t row, int64_t pos, int64_t steps, int64_t capacity) {
  if (pos + steps > capacity) {
    throw InputError(std::string(op) + ": batch row " + std::to_string(row) + " at pos " +
                     std::to_string(pos) + " + " + std::to_string(steps) +
                     " new positions exceeds the cache length " + std::to_string(capacity) +
                     "; use a larger max_seq or a smaller pos");
  }
}

}  // namespace

void rope_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                 std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];  // [B, S, H, Dh]
  const double base = attr_real(attrs, "base");
  const int64_t batch = x.shape[0], seq = x.shape[1], heads = x.shape[2], dh = x.shape[3];
  const int64_t half = dh / 2;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t pos = position_of(in[1], b, "rope");
    for (int64_t s = 0; s < seq; ++s) {
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t offset = ((b * seq + s) * heads + h) * dh;
        const double* row = x.data.data() + offset;
        double* result = out[0].data.data() + offset;
        for (int64_t i = 0; i < half; ++i) {
          const double theta =
              static_cast<double>(pos + s) *
              std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(dh));
          const double c = std::cos(theta), sn = std::sin(theta);
          result[i] = row[i] * c - row[i + half] * sn;
          result[i + half] = row[i + half] * c + row[i] * sn;
        }
      }
    }
  }
}

void attention_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                      std::vector<RefTensor>& out) {
  const RefTensor& q = in[0];  // [B, H, S, Dh]
  const RefTensor& k = in[1];  // [B, Hkv, T, Dh], H a multiple of Hkv (the op schema)
  const RefTensor& v = in[2];
  const int64_t batch = q.shape[0], heads = q.shape[1], seq = q.shape[2], dh = q.shape[3];
  const int64_t kv_heads = k.shape[1];
  const int64_t capacity = k.shape[2];
  double scale = attr_real(attrs, "scale");
  if (scale == 0.0) scale = 1.0 / std::sqrt(static_cast<double>(dh));

  std::vector<double> weights(static_cast<std::size_t>(capacity));
  for (int64_t bh = 0; bh < batch * heads; ++bh) {
    const int64_t b = bh / heads;
    const int64_t pos = position_of(in[3], b, "attention");
    check_fits("attention", b, pos, seq, capacity);
    // Grouped-query: query head h reads KV head h / (H / Hkv).
    const int64_t kv_head = (bh % heads) / (heads / kv_heads);
    const double* kb = k.data.data() + (b * kv_heads + kv_head) * capacity * dh;
    const double* vb = v.data.data() + (b * kv_heads + kv_head) * capacity * dh;
    for (int64_t s = 0; s < seq; ++s) {
      const double* qs = q.data.data() + (bh * seq + s) * dh;
      double* os = out[0].data.data() + (bh * seq + s) * dh;
      // Causal: query at absolute position pos + s sees keys 0..pos + s.
      const int64_t keys = pos + s + 1;
      double max = -INFINITY;
      for (int64_t j = 0; j < keys; ++j) {
        double dot = 0.0;
        for (int64_t d = 0; d < dh; ++d) dot += qs[d] * kb[j * dh + d];
        weights[j] = dot * scale;
        max = std::max(max, weights[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < keys; ++j) sum += (weights[j] = std::exp(weights[j] - max));
      for (int64_t d = 0; d < dh; ++d) {
        double value = 0.0;
        for (int64_t j = 0; j < keys; ++j) value += weights[j] * vb[j * dh + d];
        os[d] = value / sum;
      }
    }
  }
}

void kv_cache_update_kernel(const std::vector<RefTensor>& in, const AttrMap&,
                            std::vector<RefTensor>& out) {
  const RefTensor& cache = in[0];  // [B, Hkv, T, Dh]
  const RefTensor& fresh = in[1];  // [B, Hkv, S, Dh]
  const int64_t capacity = cache.shape[2], steps = fresh.shape[2], dh = cache.shape[3];
  out[0].data = cache.data;  // the reference returns an updated copy
  const int64_t planes = cache.shape[0] * cache.shape[1];
  for (int64_t bh = 0; bh < planes; ++bh) {
    const int64_t row = bh / cache.shape[1];
    const int64_t pos = position_of(in[2], row, "kv_cache_update");
    check_fits("kv_cache_update", row, pos, steps, capacity);
    std::copy_n(fresh.data.begin() + bh * steps * dh, steps * dh,
                out[0].data.begin() + (bh * capacity + pos) * dh);
  }
}

}  // namespace rtscope::reference::detail
