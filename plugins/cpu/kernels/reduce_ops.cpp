// CPU kernels of the reductions of imported models (reduce_sum, _mean,
// _max, _min, _prod, _log_sum_exp over any set of axes), log_softmax and
// cumsum. f32, f16 converted by the context; cumsum takes any number type.
// Float sums accumulate in double, integer ones in int64.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/onnx_support.hpp"
#include "kernels/op_spec.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

enum class Reduce { sum, mean, max, min, prod, log_sum_exp };

template <Reduce R>
void run_reduce(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const int rank = x.rank();
  bool reduced[RTS_MAX_RANK] = {};
  for (int64_t a : args.node.attr_ints("axes")) reduced[normalize_axis(args.node, a, rank)] = true;
  int64_t strides[RTS_MAX_RANK];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= x.dims[d];
  }
  // Kept dims (outer loop) and reduced dims (inner loop), with strides.
  std::vector<int64_t> kept_dims, kept_strides, red_dims, red_strides;
  for (int d = 0; d < rank; ++d) {
    (reduced[d] ? red_dims : kept_dims).push_back(x.dims[d]);
    (reduced[d] ? red_strides : kept_strides).push_back(strides[d]);
  }
  int64_t groups = 1;
  for (int64_t d : kept_dims) groups *= d;
  int64_t members = 1;
  for (int64_t d : red_dims) members *= d;
  const float* in = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  args.pool.parallel_for(groups, 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> offsets(static_cast<size_t>(members));
    for (int64_t m = 0; m < members; ++m) {
      int64_t rest = m;
      int64_t offset = 0;
      for (size_t d = red_dims.size(); d-- > 0;) {
        offset += (rest % red_dims[d]) * red_strides[d];
        rest /= red_dims[d];
      }
      offsets[m] = offset;
    }
    for (int64_t g = begin; g < end; ++g) {
      int64_t rest = g;
      int64_t base = 0;
      for (size_t d = kept_dims.size(); d-- > 0;) {
        base += (rest % kept_dims[d]) * kept_strides[d];
        rest /= kept_dims[d];
      }
      double acc = 0.0;
      if (R == Reduce::max) acc = -std::numeric_limits<double>::infinity();
      if (R == Reduce::min) acc = std::numeric_limits<double>::infinity();
      if (R == Reduce::prod) acc = 1.0;
      double top = -std::numeric_limits<double>::infinity();
      if (R == Reduce::log_sum_exp) {
        for (int64_t m = 0; m < members; ++m)
          top = std::max(top, static_cast<double>(in[base + offsets[m]]));
      }
      for (int64_t m = 0; m < members; ++m) {
        const double v = in[base + offsets[m]];
        switch (R) {
          case Reduce::sum:
          case Reduce::mean:
            acc += v;
            break;
          case Reduce::max:
            acc = std::isnan(v) || v > acc ? v : acc;
            break;
          case Reduce::min:
            acc = std::isnan(v) || v < acc ? v : acc;
            break;
          case Reduce::prod:
            acc *= v;
            break;
          case Reduce::log_sum_exp:
            acc += std::exp(v - top);
            break;
        }
      }
      if (R == Reduce::mean) acc /= static_cast<double>(members);
      if (R == Reduce::log_sum_exp) acc = std::isinf(top) ? top : top + std::log(acc);
      out[g] = static_cast<float>(acc);
    }
  });
}

void run_log_softmax(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), x.dims.size());
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dims[d];
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dims[d];
  const int64_t length = x.dims[axis];
  const float* in = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  args.pool.parallel_for(outer * inner, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t o = r / inner;
      const int64_t i = r % inner;
      const float* row = in + o * length * inner + i;
      float* dst = out + o * length * inner + i;
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < length; ++k) top = std::max(top, row[k * inner]);
      double sum = 0.0;
      for (int64_t k = 0; k < length; ++k)
        sum += std::exp(static_cast<double>(row[k * inner] - top));
      const auto log_sum = static_cast<float>(std::log(sum));
      for (int64_t k = 0; k < length; ++k) dst[k * inner] = row[k * inner] - top - log_sum;
    }
  });
}

// Running sums of one dtype's values, `Acc` the accumulator.
template <typename Acc, typename Load, typename Store>
void running_sums(const KernelArgs& args, const Load& load, const Store& store) {
  const TensorRef& x = args.inputs[0];
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), x.rank());
  const bool exclusive = args.node.attr_int("exclusive") != 0;
  const bool reverse = args.node.attr_int("reverse") != 0;
  int64_t inner = 1;
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dims[d];
  const int64_t length = x.dims[axis];
  if (length == 0 || inner == 0) return;
  const int64_t outer = x.elements() / (length * inner);
  args.pool.parallel_for(outer * inner, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t base = (r / inner) * length * inner + r % inner;
      Acc sum{};
      for (int64_t s = 0; s < length; ++s) {
        const int64_t at = base + (reverse ? length - 1 - s : s) * inner;
        const Acc value = load(at);
        if (!exclusive) sum += value;
        store(at, sum);
        if (exclusive) sum += value;
      }
    }
  });
}

void run_cumsum(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& y = args.outputs[0];
  if (x.dtype == RTS_DTYPE_I64) {
    const auto* in = x.as<const int64_t>();
    auto* out = y.as<int64_t>();
    // Wraps like ONNX Runtime's int64 sums rather than overflowing.
    running_sums<uint64_t>(
        args, [in](int64_t i) { return static_cast<uint64_t>(in[i]); },
        [out](int64_t i, uint64_t v) { out[i] = static_cast<int64_t>(v); });
  } else if (x.dtype == RTS_DTYPE_I32) {
    const auto* in = x.as<const int32_t>();
    auto* out = y.as<int32_t>();
    running_sums<int64_t>(
        args, [in](int64_t i) { return int64_t{in[i]}; },
        [out](int64_t i, int64_t v) { out[i] = static_cast<int32_t>(static_cast<uint32_t>(v)); });
  } else {
    running_sums<double>(
        args, [&x](int64_t i) { return onnx_kernels::load(x, i); },
        [&y](int64_t i, double v) { onnx_kernels::store(y, i, v); });
  }
}

const OpSpec kReduceOps[] = {
    raw_kernel("cumsum", run_cumsum, "cpu.cumsum.scan"),
    f32_kernel("reduce_sum", run_reduce<Reduce::sum>, "cpu.reduce_sum.f32"),
    f32_kernel("reduce_mean", run_reduce<Reduce::mean>, "cpu.reduce_mean.f32"),
    f32_kernel("reduce_max", run_reduce<Reduce::max>, "cpu.reduce_max.f32"),
    f32_kernel("reduce_min", run_reduce<Reduce::min>, "cpu.reduce_min.f32"),
    f32_kernel("reduce_prod", run_reduce<Reduce::prod>, "cpu.reduce_prod.f32"),
    f32_kernel("reduce_log_sum_exp", run_reduce<Reduce::log_sum_exp>, "cpu.reduce_log_sum_exp.f32"),
    f32_kernel("log_softmax", run_log_softmax, "cpu.log_softmax.f32"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kReduce> = kReduceOps;

}  // namespace rtscope::cpu
