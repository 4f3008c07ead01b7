// layernorm and rmsnorm over the last dim, parallel over rows. Sums are
// accumulated in double: rows can be thousands wide and the reference is
// float64.
#include <cmath>

#include "kernels/op_spec.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

// Calls normalize(src, dst, width) for every row of input 0 over its last
// dim (written to the same row of output 0), rows split across the pool.
template <typename NormalizeRow>
void for_each_row(const KernelArgs& args, NormalizeRow normalize) {
  const TensorRef& x = args.inputs[0];
  const int64_t width = x.dim(-1);
  const int64_t rows = width > 0 ? x.elements() / width : 0;
  const float* in = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  args.pool.parallel_for(rows, args.grain_or(rows_per_task(width)),
                         [&](int64_t begin, int64_t end) {
                           for (int64_t row = begin; row < end; ++row) {
                             normalize(in + row * width, out + row * width, width);
                           }
                         });
}

void run_layernorm(const KernelArgs& args) {
  const double eps = args.node.attr_real("eps", 1e-5);
  const float* gamma = args.inputs[1].as<const float>();
  const float* beta = args.inputs[2].as<const float>();
  for_each_row(args, [&](const float* src, float* dst, int64_t width) {
    double sum = 0.0;
    for (int64_t i = 0; i < width; ++i) sum += src[i];
    const double mean = sum / static_cast<double>(width);
    double squares = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      const double centered = src[i] - mean;
      squares += centered * centered;
    }
    const double variance = squares / static_cast<double>(width);
    const float inv_std = static_cast<float>(1.0 / std::sqrt(variance + eps));
    const float mean_f = static_cast<float>(mean);
    for (int64_t i = 0; i < width; ++i) dst[i] = (src[i] - mean_f) * inv_std * gamma[i] + beta[i];
  });
}

void run_rmsnorm(const KernelArgs& args) {
  const double eps = args.node.attr_real("eps", 1e-5);
  const float* gamma = args.inputs[1].as<const float>();
  for_each_row(args, [&](const float* src, float* dst, int64_t width) {
    double squares = 0.0;
    for (int64_t i = 0; i < width; ++i) squares += static_cast<double>(src[i]) * src[i];
    const float inv_rms =
        static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(width) + eps));
    for (int64_t i = 0; i < width; ++i) dst[i] = src[i] * inv_rms * gamma[i];
  });
}

// Rows per pool task, chosen per shape: short rows batch up, long ones
// split across threads.
template <const char* Name, KernelFn Run>
void tune_rows(const NodeDesc&, std::span<const Dims* const>, std::span<const Dims> outputs,
               unsigned threads, TuningSpace& space) {
  const int64_t width = outputs[0].empty() ? 1 : outputs[0].back();
  const int64_t rows = width > 0 ? element_count(outputs[0]) / width : 0;
  for (int64_t grain : candidate_grains(rows, threads, rows_per_task(width))) {
    space.variants.push_back({Name, Run, {grain}});
  }
}

constexpr char kLayernormRows[] = "layernorm.rows";
constexpr char kRmsnormRows[] = "rmsnorm.rows";

const OpSpec kNormOps[] = {
    {.op = "layernorm",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_layernorm,
     .kernel_name = "cpu.layernorm.rows_f32",
     .tune_space = tune_rows<kLayernormRows, run_layernorm>},
    {.op = "rmsnorm",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_rmsnorm,
     .kernel_name = "cpu.rmsnorm.rows_f32",
     .tune_space = tune_rows<kRmsnormRows, run_rmsnorm>},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kNorm> = kNormOps;

}  // namespace rtscope::cpu
