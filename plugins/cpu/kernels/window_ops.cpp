// CPU kernels of the sliding-window ops: conv (any number of spatial dims,
// groups, dilations, pads) as im2col + sgemm per image and group, or through
// oneDNN (kernels/onednn_conv.hpp) where tuning measures it faster; max_pool
// and avg_pool, by a window loop or oneDNN (kernels/onednn_pool.hpp); pad
// (constant, reflect, edge; any dtype); grid_sample and roi_align (f32).

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "aligned_buffer.hpp"
#include "isa_builds.hpp"
#include "kernels/fused_elementwise.hpp"
#include "kernels/onednn_conv.hpp"
#include "kernels/onednn_gemm.hpp"
#include "kernels/onednn_pool.hpp"
#include "kernels/onnx_support.hpp"
#include "rtscope/op_grid_sample.hpp"
#include "rtscope/op_pad.hpp"
#include "rtscope/op_roi_align.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

struct Window {
  int n = 0;  // spatial dims
  int64_t in[RTS_MAX_RANK] = {};
  int64_t out[RTS_MAX_RANK] = {};
  int64_t kernel[RTS_MAX_RANK] = {};
  int64_t strides[RTS_MAX_RANK] = {};
  int64_t dilations[RTS_MAX_RANK] = {};
  int64_t pad_begin[RTS_MAX_RANK] = {};
  int64_t pad_end[RTS_MAX_RANK] = {};
  int64_t in_size = 1, out_size = 1, kernel_size = 1;
};

Window window_of(const KernelArgs& args, std::span<const int64_t> kernel) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& y = args.outputs[0];
  Window w;
  w.n = x.rank() - 2;
  const auto& strides = args.node.attr_ints("strides");
  const auto& dilations = args.node.attr_ints("dilations");
  const auto& pads = args.node.attr_ints("pads");
  for (int d = 0; d < w.n; ++d) {
    w.in[d] = x.dims[2 + d];
    w.out[d] = y.dims[2 + d];
    w.kernel[d] = kernel[d];
    w.strides[d] = strides.empty() ? 1 : strides[d];
    w.dilations[d] = dilations.empty() ? 1 : dilations[d];
    w.pad_begin[d] = pads.empty() ? 0 : pads[d];
    w.pad_end[d] = pads.empty() ? 0 : pads[w.n + d];
    w.in_size *= w.in[d];
    w.out_size *= w.out[d];
    w.kernel_size *= w.kernel[d];
  }
  return w;
}

// Input position along each spatial dim of output `o`, kernel tap `k`;
// returns the flat input offset, or -1 when it falls in the padding.
// `padded` tells whether it lies within the padded extent.
int64_t tap(const Window& w, int64_t o, int64_t k, bool* padded = nullptr) {
  int64_t oc[RTS_MAX_RANK];
  int64_t kc[RTS_MAX_RANK];
  for (int d = w.n - 1; d >= 0; --d) {
    oc[d] = o % w.out[d];
    o /= w.out[d];
    kc[d] = k % w.kernel[d];
    k /= w.kernel[d];
  }
  int64_t offset = 0;
  bool inside = true;
  bool in_padded = true;
  for (int d = 0; d < w.n; ++d) {
    const int64_t pos = oc[d] * w.strides[d] - w.pad_begin[d] + kc[d] * w.dilations[d];
    inside = inside && pos >= 0 && pos < w.in[d];
    in_padded = in_padded && pos < w.in[d] + w.pad_end[d];
    offset = offset * w.in[d] + pos;
  }
  if (padded != nullptr) *padded = in_padded;
  return inside ? offset : -1;
}

// One im2col row of a 2d convolution: kernel tap `k` of one input plane
// at every output position, row by row: the columns of an output row that
// read inside the plane are one strided copy, the rest zeros (padding).
void im2col_row_2d(const Window& w, const float* plane, int64_t k, float* col) {
  const int64_t kh = k / w.kernel[1];
  const int64_t kw = k % w.kernel[1];
  const int64_t out_w = w.out[1];
  const int64_t stride = w.strides[1];
  // Input column of output column o: o * stride + shift.
  const int64_t shift = kw * w.dilations[1] - w.pad_begin[1];
  const int64_t first = shift >= 0 ? 0 : std::min(out_w, (-shift + stride - 1) / stride);
  const int64_t last = std::clamp<int64_t>((w.in[1] - shift + stride - 1) / stride, first, out_w);
  for (int64_t oh = 0; oh < w.out[0]; ++oh) {
    float* dst = col + oh * out_w;
    const int64_t ih = oh * w.strides[0] - w.pad_begin[0] + kh * w.dilations[0];
    if (ih < 0 || ih >= w.in[0]) {
      std::fill(dst, dst + out_w, 0.0f);
      continue;
    }
    const float* row = plane + ih * w.in[1];
    std::fill(dst, dst + first, 0.0f);
    if (stride == 1) {
      std::copy(row + first + shift, row + last + shift, dst + first);
    } else {
      for (int64_t o = first; o < last; ++o) dst[o] = row[o * stride + shift];
    }
    std::fill(dst + last, dst + out_w, 0.0f);
  }
}

// Output channels per pool task of im2col + sgemm: whole blocks of 16 rows,
// the width of oneDNN's sgemm kernels.
constexpr int64_t kConvRowBlock = 16;

// Whether a conv's im2col would copy its input unchanged (one group, a
// kernel of 1 with stride 1 in every spatial dim, no padding): the product
// then reads the input itself.
bool im2col_is_input(const Window& w, int64_t group) {
  if (group != 1) return false;
  for (int d = 0; d < w.n; ++d) {
    if (w.kernel[d] != 1 || w.strides[d] != 1 || w.pad_begin[d] != 0 || w.pad_end[d] != 0) {
      return false;
    }
  }
  return true;
}

// im2col + sgemm, the columns in `prepared` (reserved by a variant's
// prepare, rows x output positions floats) or, when it is null, in a
// buffer of this call.
void run_conv_on(const KernelArgs& args, AlignedBuffer* prepared) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& weights = args.inputs[1];
  const TensorRef& y = args.outputs[0];
  const Window w = window_of(args, weights.dims.subspan(2));
  const int64_t batch = x.dims[0];
  const int64_t channels = x.dims[1];
  const int64_t group = args.node.attr_int("group");
  const int64_t m_total = weights.dims[0];
  const int64_t c_per_group = channels / group;
  const int64_t m_per_group = m_total / group;
  const int64_t rows = c_per_group * w.kernel_size;  // im2col rows per group
  const bool reads_input = im2col_is_input(w, group);
  // Offsets of every (output, tap) pair, computed once for all channels;
  // 2d convolutions copy row segments instead (im2col_row_2d).
  std::vector<int64_t> taps;
  if (!reads_input && w.n != 2) {
    taps.resize(static_cast<size_t>(w.kernel_size * w.out_size));
    for (int64_t k = 0; k < w.kernel_size; ++k) {
      for (int64_t o = 0; o < w.out_size; ++o) taps[k * w.out_size + o] = tap(w, o, k);
    }
  }
  const float* in = x.as<const float>();
  const float* wd = weights.as<const float>();
  float* out = y.as<float>();
  const float* bias = args.inputs.size() > 2 ? args.inputs[2].as<const float>() : nullptr;
  std::vector<float> local;
  float* columns = nullptr;
  if (!reads_input) {
    if (prepared == nullptr) local.resize(static_cast<size_t>(rows * w.out_size));
    columns = prepared != nullptr ? static_cast<float*>(prepared->data()) : local.data();
  }
  const LinearEpilogue* epilogue = args.epilogue;  // a fused relu or residual add (fusion.hpp)
  const bool accumulate = epilogue != nullptr && epilogue->accumulates_in_place(out);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t g = 0; g < group; ++g) {
      const float* product_input = in + b * channels * w.in_size;
      if (!reads_input) {
        args.pool.parallel_for(rows, 1, [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r) {
            const int64_t c = r / w.kernel_size;
            const int64_t k = r % w.kernel_size;
            const float* plane = in + ((b * channels) + g * c_per_group + c) * w.in_size;
            float* col = columns + r * w.out_size;
            if (w.n == 2) {
              im2col_row_2d(w, plane, k, col);
              continue;
            }
            const int64_t* t = taps.data() + k * w.out_size;
            for (int64_t o = 0; o < w.out_size; ++o) col[o] = t[o] >= 0 ? plane[t[o]] : 0.0f;
          }
        });
        product_input = columns;
      }
      float* dst = out + (b * m_total + g * m_per_group) * w.out_size;
      // The product in blocks of output channels over the pool, each
      // block's bias and fused tail while its rows are in cache. oneDNN's
      // sgemm: OpenBLAS 0.3.21 has no kernels tuned for recent AVX-512
      // CPUs and ran these products at half its speed.
      const int64_t blocks = (m_per_group + kConvRowBlock - 1) / kConvRowBlock;
      args.pool.parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
        const int64_t m0 = begin * kConvRowBlock;
        const int64_t count = std::min(end * kConvRowBlock, m_per_group) - m0;
        float* target = dst + m0 * w.out_size;
        onednn_sgemm(wd + (g * m_per_group + m0) * rows, product_input, target, count, w.out_size,
                     rows, rows, w.out_size, w.out_size, false, accumulate ? 1.0f : 0.0f);
        if (bias != nullptr) {
          for (int64_t m = 0; m < count; ++m) {
            const float v = bias[g * m_per_group + m0 + m];
            for (int64_t o = 0; o < w.out_size; ++o) target[m * w.out_size + o] += v;
          }
        }
        if (epilogue != nullptr) {
          apply_epilogue(epilogue->shifted(target - out), target, count, w.out_size, 0, w.out_size);
        }
      });
    }
  }
}

void run_conv(const KernelArgs& args) { run_conv_on(args, nullptr); }

// conv.pointwise_sgemm: a 1x1 kernel (one group, no padding) as im2col +
// sgemm with its columns reserved once per plan. The product reads the
// input itself, or at a stride the positions it reads, gathered (a quarter
// of the input at stride 2), where the blocked oneDNN forms copy the
// whole input in and the output back.
struct PointwiseColumns final : PreparedKernel {
  AlignedBuffer columns;  // empty when every stride is 1
  size_t bytes() const override { return columns.capacity(); }
};

bool pointwise_conv_supports(const NodeDesc& node, std::span<const Dims* const> inputs) {
  const Dims& w = *inputs[1];
  if (w.size() < 3 || node.attr_int("group") != 1) return false;
  for (size_t d = 2; d < w.size(); ++d) {
    if (w[d] != 1) return false;
  }
  const auto& pads = node.attr_ints("pads");
  return std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
}

std::shared_ptr<PreparedKernel> prepare_pointwise_conv(const NodeDesc& node,
                                                       std::span<const TensorRef> inputs,
                                                       std::span<const TensorRef> outputs,
                                                       const KernelTuning& /*tuning*/) {
  auto state = std::make_shared<PointwiseColumns>();
  const auto& strides = node.attr_ints("strides");
  if (std::any_of(strides.begin(), strides.end(), [](int64_t s) { return s != 1; })) {
    const TensorRef& y = outputs[0];
    const int64_t positions = y.elements() / y.dims[0] / y.dims[1];
    state->columns.reserve(static_cast<size_t>(inputs[0].dims[1] * positions) * sizeof(float));
  }
  return state;
}

void run_conv_pointwise(const KernelArgs& args) {
  auto* state = args.tuning != nullptr
                    ? dynamic_cast<PointwiseColumns*>(args.tuning->prepared.get())
                    : nullptr;
  run_conv_on(args, state != nullptr ? &state->columns : nullptr);
}

void run_conv_onednn(const KernelArgs& args) {
  if (!run_onednn_conv(args)) run_conv(args);  // no prepared state: the generic kernel
}

// im2col + sgemm, and oneDNN in one slice (`onednn`) and in one slice per
// pool thread where the channels allow it (`onednn_split`), both in the
// plain layout, and in the blocked layout split the same way or by output
// rows, directly and (3x3, stride 1) by Winograd; a 1x1 kernel also as
// im2col + sgemm on columns reserved once (conv.pointwise_sgemm).
void tune_conv(const NodeDesc& node, std::span<const Dims* const> inputs,
               std::span<const Dims> outputs, unsigned threads, TuningSpace& space) {
  space.variants.push_back({"conv.im2col_sgemm", run_conv, {}});
  if (pointwise_conv_supports(node, inputs)) {
    space.variants.push_back(
        {"conv.pointwise_sgemm", run_conv_pointwise, {}, prepare_pointwise_conv});
  }
  if (!onednn_conv_supports(inputs, outputs)) return;
  const int64_t max_slices = onednn_conv_max_slices(node, *inputs[1], threads);
  const auto offer = [&](const char* name, int64_t grain, PrepareFn prepare) {
    space.variants.push_back({name, run_conv_onednn, {.grain = grain}, prepare});
  };
  using enum OnednnConvForm;
  offer("conv.onednn", 1, prepare_onednn_conv<kPlain>);
  if (max_slices > 1) offer("conv.onednn_split", max_slices, prepare_onednn_conv<kPlain>);
  // Rows: one slice per pool thread wherever the first spatial dim has
  // that many output rows. Each row slice reads the whole weights (a
  // Winograd form's are 36/9 as large), each channel slice the whole
  // input image: rows are offered only where they read less. Measured
  // alone, a slice finds the weights in cache, which in a network they
  // are not, so timing cannot be left to tell the two apart.
  const Dims& x = *inputs[0];
  const int64_t image_floats = x.empty() || x[0] == 0 ? 0 : element_count(x) / x[0];
  const int64_t weight_floats = element_count(*inputs[1]);
  const int64_t row_slices = outputs[0].size() >= 4 ? std::min<int64_t>(threads, outputs[0][2]) : 1;
  if (onednn_conv_blocked_supports(node, *inputs[1])) {
    offer("conv.onednn_blocked", max_slices, prepare_onednn_conv<kBlocked>);
    if (row_slices > 1 && weight_floats <= image_floats) {
      offer("conv.onednn_blocked_rows", row_slices, prepare_onednn_conv<kBlockedRows>);
    }
  }
  if (onednn_conv_winograd_supports(node, inputs)) {
    offer("conv.onednn_winograd", max_slices, prepare_onednn_conv<kWinograd>);
    if (row_slices > 1 && weight_floats * 4 <= image_floats) {
      offer("conv.onednn_winograd_rows", row_slices, prepare_onednn_conv<kWinogradRows>);
    }
  }
}

// Each input element spreads through the kernel into the output
// (the adjoint of conv); the output starts from the bias.
void run_conv_transpose(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& weights = args.inputs[1];
  const TensorRef& y = args.outputs[0];
  const int n = x.rank() - 2;
  const int64_t group = args.node.attr_int("group");
  const int64_t channels = x.dims[1];
  const int64_t c_per_group = channels / group;
  const int64_t m_per_group = weights.dims[1];
  const int64_t m_total = y.dims[1];
  const auto& strides = args.node.attr_ints("strides");
  const auto& dilations = args.node.attr_ints("dilations");
  const auto& pads = args.node.attr_ints("pads");
  int64_t in_size = 1, out_size = 1, kernel_size = 1;
  for (int d = 0; d < n; ++d) {
    in_size *= x.dims[2 + d];
    out_size *= y.dims[2 + d];
    kernel_size *= weights.dims[2 + d];
  }
  // Output offset of every (input position, tap) pair; -1 outside.
  std::vector<int64_t> targets(static_cast<size_t>(in_size * kernel_size));
  for (int64_t i = 0; i < in_size; ++i) {
    for (int64_t k = 0; k < kernel_size; ++k) {
      int64_t ri = i, rk = k, offset = 0;
      int64_t ic[RTS_MAX_RANK], kc[RTS_MAX_RANK];
      for (int d = n - 1; d >= 0; --d) {
        ic[d] = ri % x.dims[2 + d];
        ri /= x.dims[2 + d];
        kc[d] = rk % weights.dims[2 + d];
        rk /= weights.dims[2 + d];
      }
      bool inside = true;
      for (int d = 0; d < n; ++d) {
        const int64_t pos = ic[d] * (strides.empty() ? 1 : strides[d]) -
                            (pads.empty() ? 0 : pads[d]) +
                            kc[d] * (dilations.empty() ? 1 : dilations[d]);
        inside = inside && pos >= 0 && pos < y.dims[2 + d];
        offset = offset * y.dims[2 + d] + pos;
      }
      targets[i * kernel_size + k] = inside ? offset : -1;
    }
  }
  const float* in = x.as<const float>();
  const float* wd = weights.as<const float>();
  const float* bias = args.inputs.size() > 2 ? args.inputs[2].as<const float>() : nullptr;
  float* out = y.as<float>();
  const int64_t batch = x.dims[0];
  args.pool.parallel_for(batch * m_total, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bm = begin; bm < end; ++bm) {
      const int64_t b = bm / m_total;
      const int64_t m_global = bm % m_total;
      const int64_t g = m_global / m_per_group;
      const int64_t m = m_global % m_per_group;
      float* plane = out + bm * out_size;
      for (int64_t o = 0; o < out_size; ++o) plane[o] = bias != nullptr ? bias[m_global] : 0.0f;
      for (int64_t c = 0; c < c_per_group; ++c) {
        const int64_t channel = g * c_per_group + c;
        const float* src = in + (b * channels + channel) * in_size;
        const float* kernel = wd + (channel * m_per_group + m) * kernel_size;
        for (int64_t i = 0; i < in_size; ++i) {
          const float v = src[i];
          const int64_t* t = targets.data() + i * kernel_size;
          for (int64_t k = 0; k < kernel_size; ++k) {
            if (t[k] >= 0) plane[t[k]] += v * kernel[k];
          }
        }
      }
    }
  });
}

// max_pool's fold: NaN wins, so a window holding one gives NaN. Written
// as two selects so that the compiler vectorizes it.
inline __attribute__((always_inline)) float max_or_nan(float acc, float v) {
  const float larger = v > acc ? v : acc;
  return v != v ? v : larger;
}

// Max pool over the 2d planes [begin, end) without dilation, one output
// row at a time: the elementwise max of the input rows its window covers
// into `row` (in[1] floats; contiguous, so the loop is vectorized), then
// per kernel column the max into every output whose window holds that
// column (strided loads, also vectorized). Where the window loop gathers
// kernel_size scattered taps per output, this reads each input row kernel
// height times from the first-level cache. Built per ISA (isa_builds.hpp):
// with AVX-512 about 2x the baseline's speed.
inline __attribute__((always_inline)) void max_pool_2d_loop(const Window& w, const float* in,
                                                            float* out, int64_t begin, int64_t end,
                                                            float* row) {
  const int64_t in_h = w.in[0], in_w = w.in[1], out_h = w.out[0], out_w = w.out[1];
  const int64_t stride_w = w.strides[1], pad_w = w.pad_begin[1];
  for (int64_t p = begin; p < end; ++p) {
    const float* plane = in + p * w.in_size;
    float* dst = out + p * w.out_size;
    for (int64_t oh = 0; oh < out_h; ++oh) {
      float* line = dst + oh * out_w;
      const int64_t top = oh * w.strides[0] - w.pad_begin[0];
      const int64_t lo = std::max<int64_t>(top, 0);
      const int64_t hi = std::min<int64_t>(top + w.kernel[0], in_h);
      std::fill(line, line + out_w, -std::numeric_limits<float>::infinity());
      if (lo >= hi) continue;  // a window of padding alone
      std::copy(plane + lo * in_w, plane + (lo + 1) * in_w, row);
      for (int64_t h = lo + 1; h < hi; ++h) {
        const float* src = plane + h * in_w;
        for (int64_t i = 0; i < in_w; ++i) row[i] = max_or_nan(row[i], src[i]);
      }
      for (int64_t k = 0; k < w.kernel[1]; ++k) {
        // Outputs whose column k falls inside the row: 0 <= o*s - pad + k < in_w.
        const int64_t shift = k - pad_w;
        const int64_t first = shift >= 0 ? 0 : (-shift + stride_w - 1) / stride_w;
        const int64_t last = std::min<int64_t>(out_w, (in_w - shift + stride_w - 1) / stride_w);
        for (int64_t o = first; o < last; ++o) {
          line[o] = max_or_nan(line[o], row[o * stride_w + shift]);
        }
      }
    }
  }
}

RTSCOPE_ISA_BUILDS(max_pool_2d,
                   (const Window& w, const float* in, float* out, int64_t begin, int64_t end,
                    float* row),
                   (w, in, out, begin, end, row))

void max_pool_2d(const Window& w, const float* in, float* out, int64_t begin, int64_t end,
                 float* row) {
  static const auto run =
      for_this_cpu<max_pool_2d_avx512, max_pool_2d_avx2, max_pool_2d_baseline>();
  run(w, in, out, begin, end, row);
}

template <bool IsMax>
void run_pool(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const Window w = window_of(args, args.node.attr_ints("kernel"));
  const int64_t planes = x.dims[0] * x.dims[1];
  if (IsMax && w.n == 2 && w.dilations[0] == 1 && w.dilations[1] == 1) {
    args.pool.parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> row;
      row.resize(static_cast<size_t>(w.in[1]));
      max_pool_2d(w, x.as<const float>(), args.outputs[0].as<float>(), begin, end, row.data());
    });
    return;
  }
  const bool include_pad = !IsMax && args.node.attr_int("count_include_pad", 0) != 0;
  std::vector<int64_t> taps(static_cast<size_t>(w.kernel_size * w.out_size));
  std::vector<float> divisors(static_cast<size_t>(w.out_size), 0.0f);
  for (int64_t o = 0; o < w.out_size; ++o) {
    for (int64_t k = 0; k < w.kernel_size; ++k) {
      bool padded = false;
      const int64_t t = tap(w, o, k, &padded);
      taps[o * w.kernel_size + k] = t;
      if (include_pad ? padded : t >= 0) divisors[o] += 1.0f;
    }
  }
  const float* in = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  args.pool.parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* plane = in + p * w.in_size;
      float* dst = out + p * w.out_size;
      for (int64_t o = 0; o < w.out_size; ++o) {
        const int64_t* t = taps.data() + o * w.kernel_size;
        float acc = IsMax ? -std::numeric_limits<float>::infinity() : 0.0f;
        for (int64_t k = 0; k < w.kernel_size; ++k) {
          if (t[k] < 0) continue;
          const float v = plane[t[k]];
          if (IsMax) {
            acc = std::isnan(v) || v > acc ? v : acc;
          } else {
            acc += v;
          }
        }
        dst[o] = IsMax ? acc : acc / divisors[o];
      }
    }
  });
}

void run_max_pool_onednn(const KernelArgs& args) {
  if (!run_onednn_pool(args)) run_pool<true>(args);  // no prepared state: the generic kernel
}
void run_avg_pool_onednn(const KernelArgs& args) {
  if (!run_onednn_pool(args)) run_pool<false>(args);
}

// The plugin's window loop, and oneDNN's pooling in one channel slice per
// pool thread.
template <bool IsMax>
void tune_pool(const NodeDesc& node, std::span<const Dims* const> inputs,
               std::span<const Dims> outputs, unsigned threads, TuningSpace& space) {
  space.variants.push_back({IsMax ? "max_pool.f32" : "avg_pool.f32", run_pool<IsMax>, {}});
  if (!onednn_pool_supports(node, inputs, outputs)) return;
  const int64_t slices = std::clamp<int64_t>((*inputs[0])[1], 1, threads);
  if (IsMax) {
    space.variants.push_back(
        {"max_pool.onednn", run_max_pool_onednn, {.grain = slices}, prepare_onednn_max_pool});
  } else {
    space.variants.push_back(
        {"avg_pool.onednn", run_avg_pool_onednn, {.grain = slices}, prepare_onednn_avg_pool});
  }
}

void run_pad(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& y = args.outputs[0];
  const auto& pads = args.node.attr_ints("pads");
  const std::string& mode = onnx_kernels::attr_string(args.node, "mode");
  const double value = args.node.attr_real("value");
  const int rank = x.rank();
  const size_t width = dtype_size(y.dtype);
  // The fill value in the output's dtype, written once.
  std::byte fill[8] = {};
  const TensorRef fill_ref{y.dtype, y.dims, fill};
  onnx_kernels::store(fill_ref, 0, value);
  const auto* from = static_cast<const std::byte*>(x.data);
  auto* to = static_cast<std::byte*>(y.data);
  const int64_t n = y.elements();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i;
    int64_t offset = 0;
    int64_t stride = 1;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      int64_t pos = rest % y.dims[d] - pads[d];
      rest /= y.dims[d];
      inside = math::pad_source(mode, x.dims[d], pos) && inside;
      offset += pos * stride;
      stride *= x.dims[d];
    }
    std::memcpy(to + i * width, inside ? from + offset * width : fill, width);
  }
}

// grid_sample: each (image, channel) plane sampled at its image's grid
// points, planes spread over the pool.
void run_grid_sample(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& grid = args.inputs[1];
  const TensorRef& y = args.outputs[0];
  math::GridSampling sampling;
  // The schema checked both names.
  sampling.mode = *math::grid_mode(onnx_kernels::attr_string(args.node, "mode"));
  sampling.padding = *math::grid_padding(onnx_kernels::attr_string(args.node, "padding_mode"));
  sampling.align_corners = args.node.attr_int("align_corners") != 0;
  const int64_t channels = x.dims[1];
  const int64_t height = x.dims[2];
  const int64_t width = x.dims[3];
  const int64_t points = y.dims[2] * y.dims[3];
  const float* in = x.as<const float>();
  const float* at = grid.as<const float>();
  float* out = y.as<float>();
  args.pool.parallel_for(x.dims[0] * channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const float* image = in + plane * height * width;
      const float* g = at + (plane / channels) * points * 2;
      const auto pixel = [image, width](int64_t row, int64_t col) {
        return image[row * width + col];
      };
      for (int64_t p = 0; p < points; ++p) {
        out[plane * points + p] =
            math::grid_sample_point(g[2 * p], g[2 * p + 1], height, width, sampling, pixel);
      }
    }
  });
}

// roi_align: each (region, channel) plane pooled from its batch entry's
// image, planes spread over the pool; a batch index outside the input is
// an error naming the node.
void run_roi_align(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& rois = args.inputs[1];
  const TensorRef& batch = args.inputs[2];
  const TensorRef& y = args.outputs[0];
  math::RoiAlignParams params;
  params.max_mode = onnx_kernels::attr_string(args.node, "mode") == "max";
  params.half_pixel =
      onnx_kernels::attr_string(args.node, "coordinate_transformation_mode") == "half_pixel";
  params.output_height = y.dims[2];
  params.output_width = y.dims[3];
  params.sampling_ratio = args.node.attr_int("sampling_ratio");
  params.spatial_scale = args.node.attr_real("spatial_scale");
  const int64_t regions = rois.dims[0];
  const int64_t channels = x.dims[1], height = x.dims[2], width = x.dims[3];
  std::vector<int64_t> entries(static_cast<size_t>(regions));
  for (int64_t r = 0; r < regions; ++r) {
    const auto n = static_cast<int64_t>(onnx_kernels::load(batch, r));
    if (n < 0 || n >= x.dims[0]) {
      fail_node(args.node, "batch index ", n, " of region ", r, " is outside [0, ", x.dims[0], ")");
    }
    entries[r] = n;
  }
  const float* in = x.as<const float>();
  const float* boxes = rois.as<const float>();
  float* out = y.as<float>();
  const int64_t bins = params.output_height * params.output_width;
  args.pool.parallel_for(regions * channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t r = plane / channels;
      const float* image = in + (entries[r] * channels + plane % channels) * height * width;
      math::roi_align_plane(
          boxes + r * 4, height, width, params,
          [image, width](int64_t row, int64_t col) { return image[row * width + col]; },
          out + plane * bins);
    }
  });
}

const OpSpec kWindowOps[] = {
    f32_kernel("grid_sample", run_grid_sample, "cpu.grid_sample.f32"),
    f32_kernel("roi_align", run_roi_align, "cpu.roi_align.f32"),
    {.op = "conv",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_conv,
     .kernel_name = "cpu.conv.im2col_sgemm",
     .tune_space = tune_conv},
    {.op = "conv_transpose",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_conv_transpose,
     .kernel_name = "cpu.conv_transpose.scatter"},
    {.op = "max_pool",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_pool<true>,
     .kernel_name = "cpu.max_pool.f32",
     .tune_space = tune_pool<true>},
    {.op = "avg_pool",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_pool<false>,
     .kernel_name = "cpu.avg_pool.f32",
     .tune_space = tune_pool<false>},
    {.op = "pad",
     .f16_mode = F16Mode::kRawElements,
     .run = run_pad,
     .kernel_name = "cpu.pad.elements"},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kWindow> = kWindowOps;

}  // namespace rtscope::cpu
