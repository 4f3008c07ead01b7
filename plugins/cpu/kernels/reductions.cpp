// softmax and argmax along one axis. The tensor is viewed as
// [outer, axis, inner]; with inner == 1 (the usual last axis) rows are
// contiguous.
#include <algorithm>
#include <cmath>

#include "kernels/op_spec.hpp"
#include "thread_pool.hpp"
#include "vector_math.hpp"

namespace rtscope::cpu {
namespace {

void run_softmax(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const AxisView view = view_around_axis(args.node, x.dims);
  const float* in = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  // One lane is one softmax: `length` values `inner` apart.
  const int64_t lanes = view.outer * view.inner;
  args.pool.parallel_for(
      lanes, args.grain_or(rows_per_task(view.length)), [&](int64_t begin, int64_t end) {
        for (int64_t lane = begin; lane < end; ++lane) {
          const int64_t base = (lane / view.inner) * view.length * view.inner + lane % view.inner;
          const float* src = in + base;
          float* dst = out + base;
          const int64_t step = view.inner;
          float max_value = -INFINITY;
          for (int64_t i = 0; i < view.length; ++i) max_value = std::max(max_value, src[i * step]);
          double sum = 0.0;
          if (step == 1) {
            exp_below(src, max_value, dst, view.length);
            for (int64_t i = 0; i < view.length; ++i) sum += dst[i];
          } else {
            for (int64_t i = 0; i < view.length; ++i) {
              const float e = std::exp(src[i * step] - max_value);
              dst[i * step] = e;
              sum += e;
            }
          }
          const float inv_sum = static_cast<float>(1.0 / sum);
          for (int64_t i = 0; i < view.length; ++i) dst[i * step] *= inv_sum;
        }
      });
}

void run_argmax(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const AxisView view = view_around_axis(args.node, x.dims);
  const float* in = x.as<const float>();
  int64_t* out = args.outputs[0].as<int64_t>();
  const int64_t lanes = view.outer * view.inner;
  args.pool.parallel_for(lanes, rows_per_task(view.length), [&](int64_t begin, int64_t end) {
    for (int64_t lane = begin; lane < end; ++lane) {
      const float* src = in + (lane / view.inner) * view.length * view.inner + lane % view.inner;
      int64_t best = 0;
      float best_value = src[0];
      // Strictly greater keeps the first index on ties.
      for (int64_t i = 1; i < view.length; ++i) {
        const float value = src[i * view.inner];
        if (value > best_value) {
          best_value = value;
          best = i;
        }
      }
      out[lane] = best;
    }
  });
}

// Lanes per pool task, chosen per shape.
void tune_softmax(const NodeDesc& node, std::span<const Dims* const> inputs, std::span<const Dims>,
                  unsigned threads, TuningSpace& space) {
  const Dims& x = *inputs[0];
  const AxisView view = view_around_axis(node, x);
  for (int64_t grain :
       candidate_grains(view.outer * view.inner, threads, rows_per_task(view.length))) {
    space.variants.push_back({"softmax.lanes", run_softmax, {grain}});
  }
}

const OpSpec kReductionOps[] = {
    {.op = "softmax",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_softmax,
     .kernel_name = "cpu.softmax.lanes_f32",
     .tune_space = tune_softmax},
    {.op = "argmax",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_argmax,
     .kernel_name = "cpu.argmax.lanes_f32",
     .float_data_only = true},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kReduction> = kReductionOps;

}  // namespace rtscope::cpu
