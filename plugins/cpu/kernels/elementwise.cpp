// Elementwise ops: add, sub, mul with numpy broadcasting; scale, relu,
// gelu, silu. All compute in f32 (f16 is converted by the context).
// Specialized forms: a flat no-broadcast path for same-shape operands and
// a per-shape split over the pool; capture lowers both into replay steps.
#include <algorithm>
#include <cmath>

#include "kernels/op_spec.hpp"
#include "kernels/step_list.hpp"
#include "thread_pool.hpp"
#include "vector_math.hpp"

namespace rtscope::cpu {
namespace {

// Strides of an operand broadcast to the output shape: 0 along broadcast
// dims. Adjacent dims that stay contiguous for both operands are merged so
// the inner loop is as long as possible.
struct BroadcastLayout {
  int rank = 0;
  int64_t dims[RTS_MAX_RANK] = {};
  int64_t a_strides[RTS_MAX_RANK] = {};
  int64_t b_strides[RTS_MAX_RANK] = {};
};

BroadcastLayout broadcast_layout(std::span<const int64_t> out, std::span<const int64_t> a,
                                 std::span<const int64_t> b) {
  const int rank = static_cast<int>(out.size());
  int64_t a_full[RTS_MAX_RANK];
  int64_t b_full[RTS_MAX_RANK];
  int64_t a_stride = 1;
  int64_t b_stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int ai = i - (rank - static_cast<int>(a.size()));
    const int bi = i - (rank - static_cast<int>(b.size()));
    const int64_t da = ai >= 0 ? a[ai] : 1;
    const int64_t db = bi >= 0 ? b[bi] : 1;
    a_full[i] = (da == 1 && out[i] != 1) ? 0 : a_stride;
    b_full[i] = (db == 1 && out[i] != 1) ? 0 : b_stride;
    a_stride *= da;
    b_stride *= db;
  }
  BroadcastLayout layout;
  for (int i = 0; i < rank; ++i) {
    if (out[i] == 1) continue;  // size-1 dims carry no iteration
    const int last = layout.rank - 1;
    if (last >= 0 && layout.a_strides[last] == a_full[i] * out[i] &&
        layout.b_strides[last] == b_full[i] * out[i]) {
      layout.dims[last] *= out[i];
      layout.a_strides[last] = a_full[i];
      layout.b_strides[last] = b_full[i];
      continue;
    }
    layout.dims[layout.rank] = out[i];
    layout.a_strides[layout.rank] = a_full[i];
    layout.b_strides[layout.rank] = b_full[i];
    ++layout.rank;
  }
  if (layout.rank == 0) {
    layout.rank = 1;
    layout.dims[0] = 1;
    layout.a_strides[0] = 1;
    layout.b_strides[0] = 1;
  }
  return layout;
}

template <typename Op>
void binary_segment(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* out,
                    int64_t count, Op op) {
  // Separate loops per stride pattern so each one vectorizes.
  if (a_stride == 1 && b_stride == 1) {
    for (int64_t i = 0; i < count; ++i) out[i] = op(a[i], b[i]);
  } else if (a_stride == 1 && b_stride == 0) {
    const float bv = *b;
    for (int64_t i = 0; i < count; ++i) out[i] = op(a[i], bv);
  } else if (a_stride == 0 && b_stride == 1) {
    const float av = *a;
    for (int64_t i = 0; i < count; ++i) out[i] = op(av, b[i]);
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = op(a[i * a_stride], b[i * b_stride]);
  }
}

template <typename Op>
void run_binary(const KernelArgs& args, Op op) {
  const TensorRef& a = args.inputs[0];
  const TensorRef& b = args.inputs[1];
  const TensorRef& out = args.outputs[0];
  const BroadcastLayout layout = broadcast_layout(out.dims, a.dims, b.dims);
  const int inner_axis = layout.rank - 1;
  const int64_t inner = layout.dims[inner_axis];
  const int64_t total = out.elements();
  const float* a_data = a.as<const float>();
  const float* b_data = b.as<const float>();
  float* out_data = out.as<float>();
  args.pool.parallel_for(
      total, args.grain_or(kMinElementsPerTask), [&](int64_t begin, int64_t end) {
        int64_t position = begin;
        while (position < end) {
          const int64_t row = position / inner;
          const int64_t column = position % inner;
          const int64_t count = std::min(end - position, inner - column);
          // Offsets of this row in a and b from its multi-index.
          int64_t a_offset = column * layout.a_strides[inner_axis];
          int64_t b_offset = column * layout.b_strides[inner_axis];
          int64_t remaining = row;
          for (int axis = inner_axis - 1; axis >= 0; --axis) {
            const int64_t index = remaining % layout.dims[axis];
            remaining /= layout.dims[axis];
            a_offset += index * layout.a_strides[axis];
            b_offset += index * layout.b_strides[axis];
          }
          binary_segment(a_data + a_offset, layout.a_strides[inner_axis], b_data + b_offset,
                         layout.b_strides[inner_axis], out_data + position, count, op);
          position += count;
        }
      });
}

// The no-broadcast fast path: one flat loop, no layout or index math.
// Work at or below `grain` runs inline without touching the pool.
template <typename Op>
void binary_contiguous(const float* a, const float* b, float* out, int64_t count, int64_t grain,
                       ThreadPool& pool, Op op) {
  if (count <= grain) {
    for (int64_t i = 0; i < count; ++i) out[i] = op(a[i], b[i]);
    return;
  }
  pool.parallel_for(count, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = op(a[i], b[i]);
  });
}

// An op with its own vectorized loop over a span (`Op::span`).
template <typename Op>
concept HasSpanLoop = requires(const float* in, float* out, int64_t count) {
  Op::span(in, out, count);
};

// out[i] = op(in[i]) for i < count: through the op's own vectorized loop
// where it has one, else one element at a time.
template <typename Op>
void apply_unary(const Op& op, const float* in, float* out, int64_t count) {
  if constexpr (HasSpanLoop<Op>) {
    Op::span(in, out, count);
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = op(in[i]);
  }
}

template <typename Op>
void unary_contiguous(const float* in, float* out, int64_t count, int64_t grain, ThreadPool& pool,
                      Op op) {
  if (count <= grain) {
    apply_unary(op, in, out, count);
    return;
  }
  pool.parallel_for(count, grain, [&](int64_t begin, int64_t end) {
    apply_unary(op, in + begin, out + begin, end - begin);
  });
}

// Op functors. `from` reads the node's attributes once, so a replay step
// carries the resolved values instead of looking them up per call.
struct Add {
  static constexpr const char* kContiguous = "add.contiguous";
  static constexpr const char* kBroadcast = "add.broadcast";
  float operator()(float x, float y) const { return x + y; }
};
struct Sub {
  static constexpr const char* kContiguous = "sub.contiguous";
  static constexpr const char* kBroadcast = "sub.broadcast";
  float operator()(float x, float y) const { return x - y; }
};
struct Mul {
  static constexpr const char* kContiguous = "mul.contiguous";
  static constexpr const char* kBroadcast = "mul.broadcast";
  float operator()(float x, float y) const { return x * y; }
};
struct Scale {
  static constexpr const char* kName = "scale.contiguous";
  static Scale from(const NodeDesc& node) { return {static_cast<float>(node.attr_real("factor"))}; }
  float factor;
  float operator()(float x) const { return x * factor; }
};
struct Relu {
  static constexpr const char* kName = "relu.contiguous";
  static Relu from(const NodeDesc&) { return {}; }
  float operator()(float x) const { return x > 0.0f ? x : 0.0f; }
};
struct Gelu {
  static constexpr const char* kName = "gelu.contiguous";
  static Gelu from(const NodeDesc&) { return {}; }
  float operator()(float x) const {
    constexpr float kInvSqrt2 = 0.70710678118654752440f;
    return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
  }
};
struct Silu {
  static constexpr const char* kName = "silu.contiguous";
  static Silu from(const NodeDesc&) { return {}; }
  float operator()(float x) const { return x / (1.0f + std::exp(-x)); }
  static void span(const float* in, float* out, int64_t count) { silu(in, out, count); }
};

bool same_shapes(std::span<const int64_t> a, std::span<const int64_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

template <typename Op>
void run_binary_generic(const KernelArgs& args) {
  run_binary(args, Op{});
}

template <typename Op>
void run_binary_contiguous(const KernelArgs& args) {
  binary_contiguous(args.inputs[0].as<const float>(), args.inputs[1].as<const float>(),
                    args.outputs[0].as<float>(), args.outputs[0].elements(),
                    args.grain_or(kMinElementsPerTask), args.pool, Op{});
}

template <typename Op>
void run_unary(const KernelArgs& args) {
  unary_contiguous(args.inputs[0].as<const float>(), args.outputs[0].as<float>(),
                   args.outputs[0].elements(), args.grain_or(kMinElementsPerTask), args.pool,
                   Op::from(args.node));
}

// Same-shape operands take the flat path; either way the split over the
// pool is chosen per shape (tiny tensors are fastest inline).
template <typename Op>
void tune_binary(const NodeDesc&, std::span<const Dims* const> inputs,
                 std::span<const Dims> outputs, unsigned threads, TuningSpace& space) {
  const bool flat = *inputs[0] == outputs[0] && *inputs[1] == outputs[0];
  for (int64_t grain : candidate_grains(element_count(outputs[0]), threads, kMinElementsPerTask)) {
    space.variants.push_back({flat ? Op::kContiguous : Op::kBroadcast,
                              flat ? run_binary_contiguous<Op> : run_binary_generic<Op>,
                              {grain}});
  }
}

template <typename Op>
void tune_unary(const NodeDesc&, std::span<const Dims* const>, std::span<const Dims> outputs,
                unsigned threads, TuningSpace& space) {
  for (int64_t grain : candidate_grains(element_count(outputs[0]), threads, kMinElementsPerTask)) {
    space.variants.push_back({Op::kName, run_unary<Op>, {grain}});
  }
}

struct BinaryStep {
  const float* a;
  const float* b;
  float* out;
  int64_t count;
  int64_t grain;
  ThreadPool* pool;
};

template <typename Op>
void binary_step(const BinaryStep& step) {
  binary_contiguous(step.a, step.b, step.out, step.count, step.grain, *step.pool, Op{});
}

// Work within one grain never reaches the pool: the recording picks a step
// that is the bare loop (no branch, no pool argument, no stack frame), and
// where the output overlaps no operand, one without the compiler's
// run-time overlap checks.
struct InlineBinaryStep {
  const float* a;
  const float* b;
  float* out;
  int64_t count;
};

template <typename Op>
void inline_binary_step(const InlineBinaryStep& step) {
  const Op op{};
  for (int64_t i = 0; i < step.count; ++i) step.out[i] = op(step.a[i], step.b[i]);
}

template <typename Op>
void disjoint_binary_step(const InlineBinaryStep& step) {
  const float* __restrict a = step.a;
  const float* __restrict b = step.b;
  float* __restrict out = step.out;
  const Op op{};
  for (int64_t i = 0; i < step.count; ++i) out[i] = op(a[i], b[i]);
}

bool overlap(const float* a, const float* b, int64_t count) {
  return a < b + count && b < a + count;
}

template <typename Op>
bool lower_binary(const KernelArgs& args, KernelFn, StepList& steps) {
  const TensorRef& out = args.outputs[0];
  if (!same_shapes(args.inputs[0].dims, out.dims) || !same_shapes(args.inputs[1].dims, out.dims)) {
    return false;  // broadcasting keeps the wrapped kernel
  }
  const int64_t grain = args.grain_or(kMinElementsPerTask);
  if (out.elements() <= grain) {
    const InlineBinaryStep step{args.inputs[0].as<const float>(), args.inputs[1].as<const float>(),
                                out.as<float>(), out.elements()};
    if (overlap(step.out, step.a, step.count) || overlap(step.out, step.b, step.count)) {
      steps.add<inline_binary_step<Op>>(step);
    } else {
      steps.add<disjoint_binary_step<Op>>(step);
    }
    return true;
  }
  const BinaryStep step{args.inputs[0].as<const float>(),
                        args.inputs[1].as<const float>(),
                        out.as<float>(),
                        out.elements(),
                        grain,
                        &args.pool};
  steps.add<binary_step<Op>>(step);
  return true;
}

template <typename Op>
struct UnaryStep {
  const float* in;
  float* out;
  int64_t count;
  int64_t grain;
  ThreadPool* pool;
  Op op;
};

template <typename Op>
void unary_step(const UnaryStep<Op>& step) {
  unary_contiguous(step.in, step.out, step.count, step.grain, *step.pool, step.op);
}

template <typename Op>
struct InlineUnaryStep {
  const float* in;
  float* out;
  int64_t count;
  Op op;
};

template <typename Op>
void inline_unary_step(const InlineUnaryStep<Op>& step) {
  apply_unary(step.op, step.in, step.out, step.count);
}

template <typename Op>
void disjoint_unary_step(const InlineUnaryStep<Op>& step) {
  const float* __restrict in = step.in;
  float* __restrict out = step.out;
  const Op op = step.op;
  if constexpr (HasSpanLoop<Op>) {
    Op::span(in, out, step.count);
  } else {
    for (int64_t i = 0; i < step.count; ++i) out[i] = op(in[i]);
  }
}

template <typename Op>
bool lower_unary(const KernelArgs& args, KernelFn, StepList& steps) {
  const TensorRef& out = args.outputs[0];
  if (out.elements() <= args.grain_or(kMinElementsPerTask)) {
    const InlineUnaryStep<Op> step{args.inputs[0].as<const float>(), out.as<float>(),
                                   out.elements(), Op::from(args.node)};
    if (overlap(step.out, step.in, step.count)) {
      steps.add<inline_unary_step<Op>>(step);
    } else {
      steps.add<disjoint_unary_step<Op>>(step);
    }
    return true;
  }
  const UnaryStep<Op> step{
      args.inputs[0].as<const float>(),   out.as<float>(), out.elements(),
      args.grain_or(kMinElementsPerTask), &args.pool,      Op::from(args.node)};
  steps.add<unary_step<Op>>(step);
  return true;
}

template <typename Op>
OpSpec binary_spec(const char* op, const char* kernel) {
  return {.op = op,
          .f16_mode = F16Mode::kComputeInF32,
          .run = run_binary_generic<Op>,
          .kernel_name = kernel,
          .tune_space = tune_binary<Op>,
          .lower = lower_binary<Op>};
}

template <typename Op>
OpSpec unary_spec(const char* op, const char* kernel) {
  return {.op = op,
          .f16_mode = F16Mode::kComputeInF32,
          .run = run_unary<Op>,
          .kernel_name = kernel,
          .tune_space = tune_unary<Op>,
          .lower = lower_unary<Op>};
}

const OpSpec kElementwiseOps[] = {
    binary_spec<Add>("add", "cpu.add.broadcast_f32"),
    binary_spec<Sub>("sub", "cpu.sub.broadcast_f32"),
    binary_spec<Mul>("mul", "cpu.mul.broadcast_f32"),
    unary_spec<Scale>("scale", "cpu.scale.f32"),
    unary_spec<Relu>("relu", "cpu.relu.f32"),
    unary_spec<Gelu>("gelu", "cpu.gelu_erf.f32"),
    unary_spec<Silu>("silu", "cpu.silu.f32"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kElementwise> = kElementwiseOps;

}  // namespace rtscope::cpu
