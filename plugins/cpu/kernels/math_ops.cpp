// CPU kernels of the math ops of imported models: unary functions and
// activations (f32; f16 converted by the context), div/pow/max/min/prelu
// with broadcasting, comparisons and logic (bool out, any dtype), casts,
// where, expand and gather. Scalar formulas come from rtscope/op_math.hpp,
// shared with the float64 reference.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/onnx_support.hpp"
#include "rtscope/op_math.hpp"
#include "thread_pool.hpp"
#include "vector_math.hpp"

namespace rtscope::cpu {
namespace {

using onnx_kernels::Broadcast;
using onnx_kernels::load;
using onnx_kernels::store;

// Whether Op has a vectorized loop (vector_math.hpp), and that loop.
template <math::Unary Op>
constexpr bool kVectorizedUnary =
    Op == math::Unary::exp || Op == math::Unary::tanh || Op == math::Unary::erf;

template <math::Unary Op>
void vectorized_unary(const float* in, float* out, int64_t n) {
  if constexpr (Op == math::Unary::exp) exp_each(in, out, n);
  if constexpr (Op == math::Unary::tanh) tanh_each(in, out, n);
  if constexpr (Op == math::Unary::erf) erf_each(in, out, n);
}

template <math::Unary Op>
void run_unary(const KernelArgs& args) {
  math::UnaryParams params;
  // The host resolved every attribute; the parametric ones read theirs.
  if (Op >= math::Unary::leaky_relu) {
    AttrMap attrs;
    for (const AttrDesc& a : args.node.attrs) attrs[a.name] = a.f;
    params = math::unary_params(Op, attrs);
  }
  const float* in = args.inputs[0].as<const float>();
  float* out = args.outputs[0].as<float>();
  args.pool.parallel_for(args.outputs[0].elements(), kMinElementsPerTask,
                         [&](int64_t begin, int64_t end) {
                           if constexpr (kVectorizedUnary<Op>) {
                             vectorized_unary<Op>(in + begin, out + begin, end - begin);
                           } else {
                             for (int64_t i = begin; i < end; ++i)
                               out[i] = math::unary(Op, in[i], params);
                           }
                         });
}

template <math::Binary Op>
void run_float_binary(const KernelArgs& args) {
  const TensorRef& out = args.outputs[0];
  const Broadcast a(out.dims, args.inputs[0].dims);
  const Broadcast b(out.dims, args.inputs[1].dims);
  const float* x = args.inputs[0].as<const float>();
  const float* y = args.inputs[1].as<const float>();
  float* z = out.as<float>();
  args.pool.parallel_for(out.elements(), kMinElementsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) z[i] = math::binary(Op, x[a.source(i)], y[b.source(i)]);
  });
}

// Comparisons and logic on any dtype: integers compared exactly.
template <math::Binary Op>
void run_compare(const KernelArgs& args) {
  const TensorRef& out = args.outputs[0];
  const TensorRef& x = args.inputs[0];
  const TensorRef& y = args.inputs[1];
  const Broadcast a(out.dims, x.dims);
  const Broadcast b(out.dims, y.dims);
  auto* z = out.as<uint8_t>();
  const int64_t n = out.elements();
  if (x.dtype == RTS_DTYPE_I64) {
    const auto* xi = x.as<const int64_t>();
    const auto* yi = y.as<const int64_t>();
    for (int64_t i = 0; i < n; ++i)
      z[i] = math::binary(Op, xi[a.source(i)], yi[b.source(i)]) ? 1 : 0;
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    z[i] = math::binary(Op, load(x, a.source(i)), load(y, b.source(i))) != 0.0 ? 1 : 0;
  }
}

// mod on integers exactly (a zero divisor is an error naming the node)
// and on f32 and f16 in f32 (the remainder of two floats is exact).
template <typename T>
void mod_integers(const KernelArgs& args, bool truncated) {
  const TensorRef& out = args.outputs[0];
  const Broadcast a(out.dims, args.inputs[0].dims);
  const Broadcast b(out.dims, args.inputs[1].dims);
  const T* x = args.inputs[0].as<const T>();
  const T* y = args.inputs[1].as<const T>();
  T* z = out.as<T>();
  for (int64_t i = 0; i < out.elements(); ++i) {
    const T divisor = y[b.source(i)];
    if (divisor == 0) fail_node(args.node, "integer division by zero");
    z[i] = math::mod(x[a.source(i)], divisor, truncated);
  }
}

void run_mod(const KernelArgs& args) {
  const bool truncated = args.node.attr_int("fmod") != 0;
  const TensorRef& out = args.outputs[0];
  switch (out.dtype) {
    case RTS_DTYPE_I64:
      return mod_integers<int64_t>(args, truncated);
    case RTS_DTYPE_I32:
      return mod_integers<int32_t>(args, truncated);
    default:
      break;
  }
  const TensorRef& x = args.inputs[0];
  const TensorRef& y = args.inputs[1];
  const Broadcast a(out.dims, x.dims);
  const Broadcast b(out.dims, y.dims);
  for (int64_t i = 0; i < out.elements(); ++i) {
    const auto r = math::mod(static_cast<float>(load(x, a.source(i))),
                             static_cast<float>(load(y, b.source(i))), truncated);
    store(out, i, r);
  }
}

void run_not(const KernelArgs& args) {
  const auto* in = args.inputs[0].as<const uint8_t>();
  auto* out = args.outputs[0].as<uint8_t>();
  for (int64_t i = 0; i < args.outputs[0].elements(); ++i) out[i] = in[i] == 0 ? 1 : 0;
}

void run_cast(const KernelArgs& args) {
  const TensorRef& in = args.inputs[0];
  const TensorRef& out = args.outputs[0];
  const int64_t n = out.elements();
  if (in.dtype == out.dtype) {
    std::memcpy(out.data, in.data, out.bytes());
    return;
  }
  if (in.dtype == RTS_DTYPE_I64 && out.dtype == RTS_DTYPE_I32) {
    for (int64_t i = 0; i < n; ++i)
      out.as<int32_t>()[i] = static_cast<int32_t>(in.as<const int64_t>()[i]);
    return;
  }
  const bool to_int = out.dtype == RTS_DTYPE_I32 || out.dtype == RTS_DTYPE_I64;
  for (int64_t i = 0; i < n; ++i) {
    double v = load(in, i);
    // Float to integer truncates; NaN and infinities have no integer.
    if (to_int) v = std::isfinite(v) ? std::trunc(v) : 0.0;
    store(out, i, v);
  }
}

// Moves elements of any dtype: out[i] = in[source(i)].
template <typename Source>
void gather_elements(const TensorRef& in, const TensorRef& out, Source source) {
  const size_t width = dtype_size(out.dtype);
  const auto* from = static_cast<const std::byte*>(in.data);
  auto* to = static_cast<std::byte*>(out.data);
  const int64_t n = out.elements();
  for (int64_t i = 0; i < n; ++i) std::memcpy(to + i * width, from + source(i) * width, width);
}

void run_expand(const KernelArgs& args) {
  const Broadcast b(args.outputs[0].dims, args.inputs[0].dims);
  gather_elements(args.inputs[0], args.outputs[0], [&](int64_t i) { return b.source(i); });
}

void run_where(const KernelArgs& args) {
  const TensorRef& out = args.outputs[0];
  const Broadcast bx(out.dims, args.inputs[0].dims);
  const Broadcast by(out.dims, args.inputs[1].dims);
  const Broadcast bc(out.dims, args.inputs[2].dims);
  const auto* cond = args.inputs[2].as<const uint8_t>();
  const size_t width = dtype_size(out.dtype);
  const auto* x = static_cast<const std::byte*>(args.inputs[0].data);
  const auto* y = static_cast<const std::byte*>(args.inputs[1].data);
  auto* z = static_cast<std::byte*>(out.data);
  for (int64_t i = 0; i < out.elements(); ++i) {
    const std::byte* from =
        cond[bc.source(i)] != 0 ? x + bx.source(i) * width : y + by.source(i) * width;
    std::memcpy(z + i * width, from, width);
  }
}

void run_gather(const KernelArgs& args) {
  const TensorRef& data = args.inputs[0];
  const TensorRef& indices = args.inputs[1];
  const TensorRef& out = args.outputs[0];
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), data.dims.size());
  int64_t outer = 1;
  int64_t inner = 1;
  for (int d = 0; d < axis; ++d) outer *= data.dims[d];
  for (size_t d = axis + 1; d < data.dims.size(); ++d) inner *= data.dims[d];
  const int64_t length = data.dims[axis];
  const int64_t count = indices.elements();
  const size_t row = static_cast<size_t>(inner) * dtype_size(data.dtype);
  const auto* from = static_cast<const std::byte*>(data.data);
  auto* to = static_cast<std::byte*>(out.data);
  for (int64_t k = 0; k < count; ++k) {
    int64_t index = indices.dtype == RTS_DTYPE_I64 ? indices.as<const int64_t>()[k]
                                                   : indices.as<const int32_t>()[k];
    if (index < -length || index >= length) {
      fail_node(args.node, "index ", index, " is out of range for a dim of ", length);
    }
    if (index < 0) index += length;
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(to + (o * count + k) * row, from + (o * length + index) * row, row);
    }
  }
}

template <std::size_t... I>
void add_unary(std::vector<OpSpec>& specs, const std::vector<std::string>& names,
               std::index_sequence<I...>) {
  ((specs.push_back({.op = math::kUnaryNames[I].data(),
                     .f16_mode = F16Mode::kComputeInF32,
                     .run = run_unary<static_cast<math::Unary>(I)>,
                     .kernel_name = names[I].c_str()})),
   ...);
}

template <math::Binary Op>
OpSpec binary_spec(const char* kernel) {
  const bool is_bool = math::gives_bool(Op);
  return {.op = math::kBinaryNames[static_cast<int>(Op)].data(),
          .f16_mode = is_bool ? F16Mode::kRawElements : F16Mode::kComputeInF32,
          .run = is_bool ? run_compare<Op> : run_float_binary<Op>,
          .kernel_name = kernel};
}

const std::vector<OpSpec>& specs() {
  static const std::vector<std::string> unary_names = [] {
    std::vector<std::string> names;
    for (std::string_view op : math::kUnaryNames)
      names.push_back("cpu." + std::string(op) + ".f32");
    return names;
  }();
  static const std::vector<OpSpec> table = [] {
    std::vector<OpSpec> t;
    add_unary(t, unary_names, std::make_index_sequence<std::size(math::kUnaryNames)>());
    using B = math::Binary;
    t.push_back(binary_spec<B::div>("cpu.div.broadcast_f32"));
    t.push_back(binary_spec<B::pow>("cpu.pow.broadcast_f32"));
    t.push_back(binary_spec<B::max>("cpu.max.broadcast_f32"));
    t.push_back(binary_spec<B::min>("cpu.min.broadcast_f32"));
    t.push_back(binary_spec<B::prelu>("cpu.prelu.broadcast_f32"));
    t.push_back(binary_spec<B::equal>("cpu.equal.broadcast"));
    t.push_back(binary_spec<B::less>("cpu.less.broadcast"));
    t.push_back(binary_spec<B::greater>("cpu.greater.broadcast"));
    t.push_back(binary_spec<B::less_equal>("cpu.less_equal.broadcast"));
    t.push_back(binary_spec<B::greater_equal>("cpu.greater_equal.broadcast"));
    t.push_back(binary_spec<B::logical_and>("cpu.and.broadcast"));
    t.push_back(binary_spec<B::logical_or>("cpu.or.broadcast"));
    t.push_back(binary_spec<B::logical_xor>("cpu.xor.broadcast"));
    t.push_back(raw_kernel("mod", run_mod, "cpu.mod.broadcast"));
    t.push_back(raw_kernel("not", run_not, "cpu.not.bool"));
    for (const char* op : {"cast_f32", "cast_f16", "cast_i32", "cast_i64", "cast_bool"}) {
      t.push_back(raw_kernel(op, run_cast, "cpu.cast.elementwise"));
    }
    t.push_back(raw_kernel("where", run_where, "cpu.where.broadcast"));
    t.push_back(raw_kernel("expand", run_expand, "cpu.expand.broadcast"));
    t.push_back(raw_kernel("gather", run_gather, "cpu.gather.rows"));
    return t;
  }();
  return table;
}

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kMath> = specs();

}  // namespace rtscope::cpu
