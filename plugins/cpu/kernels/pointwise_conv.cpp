#include "kernels/pointwise_conv.hpp"

#include <algorithm>

#include "aligned_buffer.hpp"
#include "kernels/fused_elementwise.hpp"
#include "kernels/onednn_gemm.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

// Output channels per pool task: whole blocks of 16 rows, the width of
// oneDNN's sgemm kernels.
constexpr int64_t kRowBlock = 16;

struct PointwiseConv final : PreparedKernel {
  // The input positions a strided node reads, [C, positions] per image;
  // empty when every stride is 1 (the product reads the input itself).
  AlignedBuffer gathered;
  bool strided = false;

  size_t bytes() const override { return gathered.capacity(); }
};

// Copies the positions of `channels` planes that a strided pointwise conv
// reads into `dst` ([channels, out positions]); spatial dims after the
// first are one row of positions each step of the outer loop.
void gather_strided(const float* src, float* dst, int64_t channels, std::span<const int64_t> in,
                    std::span<const int64_t> out, std::span<const int64_t> strides) {
  const size_t spatial = in.size();
  int64_t in_size = 1;
  int64_t out_size = 1;
  for (size_t d = 0; d < spatial; ++d) {
    in_size *= in[d];
    out_size *= out[d];
  }
  const int64_t row = out[spatial - 1];
  const int64_t step = strides[spatial - 1];
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = src + c * in_size;
    float* target = dst + c * out_size;
    for (int64_t o = 0; o < out_size; o += row) {
      // The input offset of output position o (the first of its row).
      int64_t offset = 0;
      int64_t in_stride = 1;
      int64_t out_stride = 1;
      for (size_t d = spatial; d-- > 0;) {
        const int64_t index = o / out_stride % out[d];
        offset += index * strides[d] * in_stride;
        in_stride *= in[d];
        out_stride *= out[d];
      }
      const float* from = plane + offset;
      for (int64_t i = 0; i < row; ++i) target[o + i] = from[i * step];
    }
  }
}

}  // namespace

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
  auto state = std::make_shared<PointwiseConv>();
  const auto& strides = node.attr_ints("strides");
  state->strided = std::any_of(strides.begin(), strides.end(), [](int64_t s) { return s != 1; });
  if (state->strided) {
    const TensorRef& y = outputs[0];
    state->gathered.reserve(
        static_cast<size_t>(inputs[0].dims[1] * (y.elements() / y.dims[0] / y.dims[1])) *
        sizeof(float));
  }
  return state;
}

bool run_pointwise_conv(const KernelArgs& args) {
  auto* state =
      args.tuning != nullptr ? dynamic_cast<PointwiseConv*>(args.tuning->prepared.get()) : nullptr;
  if (state == nullptr) return false;
  const TensorRef& x = args.inputs[0];
  const TensorRef& y = args.outputs[0];
  const int64_t batch = x.dims[0];
  const int64_t channels = x.dims[1];
  const int64_t m_total = y.dims[1];
  const int64_t in_size = x.elements() / batch / channels;
  const int64_t out_size = y.elements() / batch / m_total;
  const float* weights = args.inputs[1].as<const float>();
  const float* bias = args.inputs.size() > 2 ? args.inputs[2].as<const float>() : nullptr;
  float* out = y.as<float>();
  auto* gathered = static_cast<float*>(state->gathered.data());
  const auto& strides = args.node.attr_ints("strides");
  const int64_t blocks = (m_total + kRowBlock - 1) / kRowBlock;
  for (int64_t b = 0; b < batch; ++b) {
    const float* src = x.as<const float>() + b * channels * in_size;
    if (state->strided) {
      args.pool.parallel_for(channels, 1, [&](int64_t begin, int64_t end) {
        gather_strided(src + begin * in_size, gathered + begin * out_size, end - begin,
                       x.dims.subspan(2), y.dims.subspan(2), strides);
      });
      src = gathered;
    }
    float* dst = out + b * m_total * out_size;
    args.pool.parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
      const int64_t m0 = begin * kRowBlock;
      const int64_t rows = std::min(end * kRowBlock, m_total) - m0;
      float* target = dst + m0 * out_size;
      const LinearEpilogue* epilogue = args.epilogue;
      const bool in_place = epilogue != nullptr && epilogue->accumulates_in_place(out);
      onednn_sgemm(weights + m0 * channels, src, target, rows, out_size, channels, channels,
                   out_size, out_size, false, in_place ? 1.0f : 0.0f);
      if (bias != nullptr) {
        for (int64_t m = 0; m < rows; ++m) {
          const float v = bias[m0 + m];
          float* line = target + m * out_size;
          for (int64_t o = 0; o < out_size; ++o) line[o] += v;
        }
      }
      if (epilogue != nullptr) {
        apply_epilogue(epilogue->shifted(target - out), target, rows, out_size, 0, out_size);
      }
    });
  }
  return true;
}

}  // namespace rtscope::cpu
