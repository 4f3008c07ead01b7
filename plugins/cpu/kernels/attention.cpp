// Decoder ops: rope, causal attention over a KV cache (grouped-query: the
// cache may hold fewer heads than q, each serving H / Hkv query heads), and
// the in-place kv_cache_update. Attention specializes on common head dims
// at compile time; attention and rope split work over the pool per shape.
// pos is [1] (every batch row at pos[0]) or [batch] (row b at pos[b]).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/op_spec.hpp"
#include "thread_pool.hpp"
#include "vector_math.hpp"

namespace rtscope::cpu {
namespace {

// The positions of a pos input: one shared by every batch row ([1]) or one
// per batch row ([batch]), each checked to leave room for `steps` new
// positions in a cache of `cache_len` (0: no cache to fit, rope).
struct Positions {
  const int64_t* values;
  bool per_row;
  int64_t of(int64_t row) const { return values[per_row ? row : 0]; }
};

Positions read_positions(const KernelArgs& args, const TensorRef& pos, int64_t batch, int64_t steps,
                         int64_t cache_len, std::span<const int64_t> checked_dims) {
  const Positions positions{pos.as<const int64_t>(), pos.elements() > 1};
  const int64_t count = positions.per_row ? batch : 1;
  for (int64_t row = 0; row < count; ++row) {
    const int64_t value = positions.of(row);
    if (value < 0 && cache_len == 0)
      fail_node(args.node, "pos[", row, "] = ", value, " must be >= 0");
    if (value < 0 || (cache_len > 0 && value > cache_len - steps)) {
      fail_node(args.node, "pos[", row, "] = ", value, " + ", steps, " steps exceeds cache length ",
                cache_len, " (", shape_str(checked_dims),
                "); positions must lie in [0, cache length - steps]");
    }
  }
  return positions;
}

void run_rope(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const int64_t seq = x.dim(1);
  const int64_t heads = x.dim(2);
  const int64_t head_dim = x.dim(3);
  const int64_t half = head_dim / 2;
  const int64_t batch = x.dim(0);
  const Positions positions = read_positions(args, args.inputs[1], batch, seq, 0, x.dims);
  const int64_t tables = positions.per_row ? batch : 1;
  const double base = args.node.attr_real("base", 10000.0);

  // cos/sin of every (b, s, i) once (b: only with a position per batch
  // row); angles in double so that large positions keep their precision.
  // Grows once per thread, then is reused.
  thread_local std::vector<float> table;
  table.resize(static_cast<size_t>(tables * seq * half * 2));
  for (int64_t b = 0; b < tables; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      for (int64_t i = 0; i < half; ++i) {
        const double inv_freq =
            std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
        const double theta = static_cast<double>(positions.of(b) + s) * inv_freq;
        const int64_t at = ((b * seq + s) * half + i) * 2;
        table[at] = static_cast<float>(std::cos(theta));
        table[at + 1] = static_cast<float>(std::sin(theta));
      }
    }
  }
  const float* angles = table.data();
  const float* in = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  const int64_t rows = x.elements() / std::max<int64_t>(head_dim, 1);  // rows of B·S·H
  args.pool.parallel_for(rows, args.grain_or(rows_per_task(head_dim)),
                         [&](int64_t begin, int64_t end) {
                           for (int64_t row = begin; row < end; ++row) {
                             // (b, s) of the row, or s alone with one table.
                             const int64_t step = (row / heads) % (tables * seq);
                             const float* src = in + row * head_dim;
                             float* dst = out + row * head_dim;
                             const float* row_angles = angles + step * half * 2;
                             for (int64_t i = 0; i < half; ++i) {
                               const float cos_theta = row_angles[i * 2];
                               const float sin_theta = row_angles[i * 2 + 1];
                               const float first = src[i];
                               const float second = src[i + half];
                               dst[i] = first * cos_theta - second * sin_theta;
                               dst[i + half] = second * cos_theta + first * sin_theta;
                             }
                           }
                         });
}

float dot(const float* a, const float* b, int64_t count) {
  // Independent partial sums let the compiler vectorize the loop.
  float partial[8] = {};
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    for (int lane = 0; lane < 8; ++lane) partial[lane] += a[i + lane] * b[i + lane];
  }
  float sum = 0.0f;
  for (; i < count; ++i) sum += a[i] * b[i];
  for (float value : partial) sum += value;
  return sum;
}

// With a compile-time head dim (32, 64, 128) every inner loop has a fixed
// trip count and unrolls fully; the lane order matches dot(), so both
// forms give identical sums.
template <int kHeadDim>
float dot_fixed(const float* a, const float* b, int64_t count) {
  if constexpr (kHeadDim == 0) {
    return dot(a, b, count);
  } else {
    static_assert(kHeadDim % 8 == 0);
    float partial[8] = {};
    for (int i = 0; i < kHeadDim; i += 8) {
      for (int lane = 0; lane < 8; ++lane) partial[lane] += a[i + lane] * b[i + lane];
    }
    float sum = 0.0f;
    for (float value : partial) sum += value;
    return sum;
  }
}

// `grain` (when tuned) counts multiply-adds per pool task rather than rows,
// so the split still follows the visible cache length as pos grows.
template <int kHeadDim>
void run_attention(const KernelArgs& args) {
  const TensorRef& q = args.inputs[0];
  const TensorRef& k = args.inputs[1];
  const int64_t steps = q.dim(2);
  const int64_t head_dim = kHeadDim > 0 ? kHeadDim : q.dim(3);
  const int64_t cache_len = k.dim(2);
  const int64_t heads = q.dim(1);
  // Grouped-query: `group` consecutive query heads read one KV head, so
  // query plane b·H + h reads KV plane (b·H + h) / group = b·Hkv + h / group.
  const int64_t group = k.dim(1) > 0 ? heads / k.dim(1) : 1;
  const Positions positions =
      read_positions(args, args.inputs[3], q.dim(0), steps, cache_len, k.dims);
  int64_t last = 0;  // the furthest position any row reaches, for the split
  for (int64_t b = 0; b < (positions.per_row ? q.dim(0) : 1); ++b) {
    last = std::max(last, positions.of(b));
  }
  double scale = args.node.attr_real("scale", 0.0);
  if (scale == 0.0) scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  const float scale_f = static_cast<float>(scale);

  const float* q_data = q.as<const float>();
  const float* k_data = k.as<const float>();
  const float* v_data = args.inputs[2].as<const float>();
  float* out = args.outputs[0].as<float>();
  const int64_t rows = q.elements() / std::max<int64_t>(head_dim, 1);  // B·H·S query rows
  const int64_t work_per_row = std::max<int64_t>((last + steps) * head_dim * 2, 1);
  const int64_t rows_per = args.tuning != nullptr && args.tuning->grain > 0
                               ? std::max<int64_t>(args.tuning->grain / work_per_row, 1)
                               : rows_per_task(work_per_row);
  args.pool.parallel_for(rows, rows_per, [&](int64_t begin, int64_t end) {
    // Scores of one query row: on the stack for caches up to 4096 rows, so
    // a pool worker's first attention task allocates nothing either.
    constexpr int64_t kStackScores = 4096;
    float stack_scores[kStackScores];
    thread_local std::vector<float> heap_scores;
    float* scores = stack_scores;
    if (cache_len > kStackScores) {
      heap_scores.resize(static_cast<size_t>(cache_len));
      scores = heap_scores.data();
    }
    for (int64_t row = begin; row < end; ++row) {
      const int64_t s = row % steps;
      const int64_t batch_head = row / steps;
      const int64_t kv_plane = batch_head / group;
      const float* query = q_data + row * head_dim;
      const float* keys = k_data + kv_plane * cache_len * head_dim;
      const float* values = v_data + kv_plane * cache_len * head_dim;
      float* dst = out + row * head_dim;
      const int64_t visible = positions.of(batch_head / heads) + s + 1;  // keys 0..pos+s, causal
      float max_score = -INFINITY;
      for (int64_t j = 0; j < visible; ++j) {
        scores[j] = dot_fixed<kHeadDim>(query, keys + j * head_dim, head_dim) * scale_f;
        max_score = std::max(max_score, scores[j]);
      }
      exp_below(scores, max_score, scores, visible);
      float sum = 0.0f;
      for (int64_t j = 0; j < visible; ++j) sum += scores[j];
      const float inv_sum = 1.0f / sum;
      std::fill(dst, dst + head_dim, 0.0f);
      for (int64_t j = 0; j < visible; ++j) {
        const float weight = scores[j] * inv_sum;
        const float* value_row = values + j * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) dst[d] += weight * value_row[d];
      }
    }
  });
}

// Half the cache visible while measuring: a typical decode position.
void tune_attention(const NodeDesc&, std::span<const Dims* const> inputs, std::span<const Dims>,
                    unsigned threads, TuningSpace& space) {
  const Dims& q = *inputs[0];
  const int64_t steps = q[2];
  const int64_t head_dim = q[3];
  const int64_t cache_len = (*inputs[1])[2];
  space.position = std::max<int64_t>((cache_len - steps) / 2, 0);
  const int64_t rows = element_count(q) / std::max<int64_t>(head_dim, 1);
  const int64_t work = rows * (space.position + steps) * head_dim * 2;
  KernelFn fixed = nullptr;
  const char* fixed_name = nullptr;
  switch (head_dim) {
    case 32:
      fixed = run_attention<32>, fixed_name = "attention.hd32";
      break;
    case 64:
      fixed = run_attention<64>, fixed_name = "attention.hd64";
      break;
    case 128:
      fixed = run_attention<128>, fixed_name = "attention.hd128";
      break;
  }
  for (int64_t grain : candidate_grains(work, threads, kMinElementsPerTask)) {
    space.variants.push_back({"attention.rows", run_attention<0>, {grain}});
    if (fixed != nullptr) space.variants.push_back({fixed_name, fixed, {grain}});
  }
}

void tune_rope(const NodeDesc&, std::span<const Dims* const> inputs, std::span<const Dims>,
               unsigned threads, TuningSpace& space) {
  const Dims& x = *inputs[0];
  const int64_t head_dim = std::max<int64_t>(x[3], 1);
  for (int64_t grain :
       candidate_grains(element_count(x) / head_dim, threads, rows_per_task(head_dim))) {
    space.variants.push_back({"rope.rows", run_rope, {grain}});
  }
}

// Copies the cache unless the output already is the cache (bound in place),
// then writes the new steps: an in-place decode step costs one timestep.
void run_kv_cache_update(const KernelArgs& args) {
  const TensorRef& cache = args.inputs[0];
  const TensorRef& fresh = args.inputs[1];
  const TensorRef& out = args.outputs[0];
  const int64_t cache_len = cache.dim(2);
  const int64_t steps = fresh.dim(2);
  const Positions positions =
      read_positions(args, args.inputs[2], cache.dim(0), steps, cache_len, cache.dims);
  const size_t element = dtype_size(cache.dtype);
  if (out.data != cache.data && cache.bytes() > 0) {
    std::memcpy(out.data, cache.data, cache.bytes());
  }
  const size_t row_bytes = static_cast<size_t>(cache.dim(3)) * element;
  const size_t step_bytes = static_cast<size_t>(steps) * row_bytes;
  const int64_t heads = cache.dim(1);
  const int64_t batch_heads = cache.dim(0) * heads;
  auto* dst = static_cast<std::byte*>(out.data);
  const auto* src = static_cast<const std::byte*>(fresh.data);
  for (int64_t bh = 0; bh < batch_heads; ++bh) {
    if (step_bytes == 0) break;
    const int64_t pos = positions.of(bh / heads);
    std::memcpy(dst + (bh * cache_len + pos) * row_bytes, src + bh * step_bytes, step_bytes);
  }
}

const OpSpec kAttentionOps[] = {
    {.op = "rope",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_rope,
     .kernel_name = "cpu.rope.rotate_half_f32",
     .tune_space = tune_rope},
    {.op = "attention",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_attention<0>,
     .kernel_name = "cpu.attention.causal_rows_f32",
     .tune_space = tune_attention},
    {.op = "kv_cache_update",
     .f16_mode = F16Mode::kRawElements,
     .run = run_kv_cache_update,
     .kernel_name = "cpu.kv_cache_update.in_place_copy",
     .output_updates_input = true},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kAttention> = kAttentionOps;

}  // namespace rtscope::cpu
