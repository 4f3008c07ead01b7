// Mappers of elementwise ONNX ops: arithmetic, activations, comparisons,
// logic, Cast and Where.
#include <cmath>
#include <cstring>

#include "mappers.hpp"
#include "onnx_tensor.hpp"

namespace rtscope::onnx_import {
namespace {

void float_unary(Context& ctx, const char* op, AttrMap attrs = {}) {
  require_float(ctx, ctx.input(0));
  ctx.emit(op, {ctx.input(0)}, std::move(attrs), ctx.output(0));
}

// Legacy opsets (< 7) broadcast only when asked, along `axis`: the second
// operand is aligned there instead of at the end.
std::string legacy_operand(Context& ctx, const std::string& b) {
  if (ctx.opset() >= 7 || ctx.attr_int("broadcast", 0) == 0 || !ctx.has_attr("axis")) return b;
  const std::size_t rank = ctx.type(ctx.input(0)).shape.size();
  const Shape shape = ctx.static_shape(b);
  const int64_t axis = axis_in(ctx, ctx.attr_int("axis", 0), rank);
  std::vector<int64_t> aligned(static_cast<std::size_t>(axis), 1);
  aligned.insert(aligned.end(), shape.begin(), shape.end());
  while (aligned.size() < rank) aligned.push_back(1);
  return ctx.reshape(b, aligned);
}

template <const char* Op>
void binary(Context& ctx) {
  require_float(ctx, ctx.input(0));
  require_float(ctx, ctx.input(1));
  ctx.emit(Op, {ctx.input(0), legacy_operand(ctx, ctx.input(1))}, {}, ctx.output(0));
}

constexpr char kAdd[] = "add";
constexpr char kSub[] = "sub";
constexpr char kMul[] = "mul";
constexpr char kDiv[] = "div";

template <const char* Op>
void unary(Context& ctx) {
  float_unary(ctx, Op);
}

constexpr char kRelu[] = "relu";
constexpr char kExp[] = "exp";
constexpr char kLog[] = "log";
constexpr char kSqrt[] = "sqrt";
constexpr char kNeg[] = "neg";
constexpr char kAbs[] = "abs";
constexpr char kTanh[] = "tanh";
constexpr char kSigmoid[] = "sigmoid";
constexpr char kErf[] = "erf";
constexpr char kReciprocal[] = "reciprocal";
constexpr char kFloor[] = "floor";
constexpr char kCeil[] = "ceil";
constexpr char kRound[] = "round";
constexpr char kSin[] = "sin";
constexpr char kCos[] = "cos";
constexpr char kTan[] = "tan";
constexpr char kAsin[] = "asin";
constexpr char kAcos[] = "acos";
constexpr char kAtan[] = "atan";
constexpr char kSinh[] = "sinh";
constexpr char kCosh[] = "cosh";
constexpr char kAsinh[] = "asinh";
constexpr char kAcosh[] = "acosh";
constexpr char kAtanh[] = "atanh";
constexpr char kSoftplus[] = "softplus";
constexpr char kSoftsign[] = "softsign";
constexpr char kSign[] = "sign";
constexpr char kHardSwish[] = "hard_swish";
constexpr char kMish[] = "mish";

void map_pow(Context& ctx) {
  require_float(ctx, ctx.input(0));
  // An integer exponent is converted to the base's dtype (Pow allows mixed types).
  std::string exponent = ctx.input(1);
  if (ctx.dtype(exponent) != ctx.dtype(ctx.input(0))) {
    const char* cast = ctx.dtype(ctx.input(0)) == DType::f16 ? "cast_f16" : "cast_f32";
    exponent = ctx.emit(cast, {exponent});
  }
  ctx.emit("pow", {ctx.input(0), legacy_operand(ctx, exponent)}, {}, ctx.output(0));
}

void map_variadic(Context& ctx, const char* op) {
  std::string acc = ctx.input(0);
  require_float(ctx, acc);
  if (ctx.input_count() == 1) {
    ctx.identity(acc, ctx.output(0));
    return;
  }
  for (std::size_t i = 1; i < ctx.input_count(); ++i) {
    acc = ctx.emit(op, {acc, ctx.input(i)}, {}, i + 1 == ctx.input_count() ? ctx.output(0) : "");
  }
}

// Max and Min of integers (rtscope's max and min take floats): each pair
// as where(compare(a, b), a, b), exact for every value.
void map_integer_extreme(Context& ctx, const char* compare) {
  std::string acc = ctx.input(0);
  if (ctx.input_count() == 1) {
    ctx.identity(acc, ctx.output(0));
    return;
  }
  for (std::size_t i = 1; i < ctx.input_count(); ++i) {
    const std::string& next = ctx.input(i);
    if (ctx.dtype(next) != ctx.dtype(acc)) {
      ctx.fail("input '" + next + "' is " + std::string(to_string(ctx.dtype(next))) + ", input '" +
               ctx.input(0) + "' " + std::string(to_string(ctx.dtype(acc))));
    }
    const std::string keep = ctx.emit(compare, {acc, next});
    acc = ctx.emit("where", {acc, next, keep}, {}, i + 1 == ctx.input_count() ? ctx.output(0) : "");
  }
}

bool is_integer(DType dtype) { return dtype == DType::i32 || dtype == DType::i64; }

void map_sum(Context& ctx) { map_variadic(ctx, "add"); }
void map_max(Context& ctx) {
  if (is_integer(ctx.dtype(ctx.input(0)))) return map_integer_extreme(ctx, "greater");
  map_variadic(ctx, "max");
}
void map_min(Context& ctx) {
  if (is_integer(ctx.dtype(ctx.input(0)))) return map_integer_extreme(ctx, "less");
  map_variadic(ctx, "min");
}

void map_mean(Context& ctx) {
  std::string acc = ctx.input(0);
  require_float(ctx, acc);
  for (std::size_t i = 1; i < ctx.input_count(); ++i) acc = ctx.emit("add", {acc, ctx.input(i)});
  ctx.emit("scale", {acc}, {{"factor", 1.0 / static_cast<double>(ctx.input_count())}},
           ctx.output(0));
}

void map_leaky_relu(Context& ctx) {
  float_unary(ctx, "leaky_relu", {{"alpha", ctx.attr_float("alpha", 0.01)}});
}
void map_elu(Context& ctx) { float_unary(ctx, "elu", {{"alpha", ctx.attr_float("alpha", 1.0)}}); }
void map_celu(Context& ctx) { float_unary(ctx, "celu", {{"alpha", ctx.attr_float("alpha", 1.0)}}); }
void map_selu(Context& ctx) {
  float_unary(ctx, "selu",
              {{"alpha", ctx.attr_float("alpha", 1.67326319217681884765625)},
               {"gamma", ctx.attr_float("gamma", 1.05070102214813232421875)}});
}
void map_hard_sigmoid(Context& ctx) {
  float_unary(ctx, "hard_sigmoid",
              {{"alpha", ctx.attr_float("alpha", 0.2)}, {"beta", ctx.attr_float("beta", 0.5)}});
}
void map_thresholded_relu(Context& ctx) {
  float_unary(ctx, "thresholded_relu", {{"alpha", ctx.attr_float("alpha", 1.0)}});
}
void map_shrink(Context& ctx) {
  float_unary(ctx, "shrink",
              {{"bias", ctx.attr_float("bias", 0.0)}, {"lambd", ctx.attr_float("lambd", 0.5)}});
}

void map_clip(Context& ctx) {
  double lo = -INFINITY;
  double hi = INFINITY;
  if (ctx.opset() < 11) {
    lo = ctx.attr_float("min", lo);
    hi = ctx.attr_float("max", hi);
  } else {
    if (ctx.has_input(1)) lo = ctx.constant_doubles(ctx.input(1), "Clip min").at(0);
    if (ctx.has_input(2)) hi = ctx.constant_doubles(ctx.input(2), "Clip max").at(0);
  }
  float_unary(ctx, "clip", {{"min", lo}, {"max", hi}});
}

void map_prelu(Context& ctx) {
  require_float(ctx, ctx.input(0));
  std::string slope = ctx.input(1);
  // Opset < 7 and PyTorch exports give a per-channel slope [C] for x
  // [N, C, ...]: it broadcasts along axis 1 (unidirectional broadcasting
  // from the right would misalign it).
  const std::size_t rank = ctx.type(ctx.input(0)).shape.size();
  const ValueType st = ctx.type(slope);
  if (st.shape.size() == 1 && rank > 2 && ctx.is_static(slope) && ctx.is_static(ctx.input(0))) {
    const Shape xs = ctx.static_shape(ctx.input(0));
    const int64_t c = st.shape[0].value;
    if (c != 1 && c == xs[1] && c != xs.back()) {
      std::vector<int64_t> aligned{c};
      aligned.resize(rank - 1, 1);
      slope = ctx.reshape(slope, aligned);
    }
  }
  ctx.emit("prelu", {ctx.input(0), slope}, {}, ctx.output(0));
}

void map_identity(Context& ctx) { ctx.identity(ctx.input(0), ctx.output(0)); }

void map_dropout(Context& ctx) {
  // Inference: the identity, and a mask that keeps everything.
  if (ctx.opset() >= 12 && ctx.has_input(2) &&
      ctx.constant_ints(ctx.input(2), "training_mode").at(0) != 0) {
    ctx.unsupported("Dropout in training mode is not supported");
  }
  if (ctx.opset() < 7 && ctx.attr_int("is_test", 0) == 0) {
    ctx.unsupported("Dropout with is_test 0 (training) is not supported");
  }
  ctx.identity(ctx.input(0), ctx.output(0));
  if (ctx.node().output_size() > 1 && !ctx.node().output(1).empty()) {
    Tensor mask = Tensor::empty(DType::boolean, ctx.static_shape(ctx.input(0)));
    std::memset(mask.data(), 1, mask.size_bytes());
    ctx.constants[ctx.output(1)] = mask;
  }
}

void compare(Context& ctx, const char* op) {
  if (ctx.dtype(ctx.input(0)) != ctx.dtype(ctx.input(1))) ctx.fail("operands differ in type");
  ctx.emit(op, {ctx.input(0), ctx.input(1)}, {}, ctx.output(0));
}
void map_equal(Context& ctx) { compare(ctx, "equal"); }
void map_less(Context& ctx) { compare(ctx, "less"); }
void map_greater(Context& ctx) { compare(ctx, "greater"); }
void map_less_equal(Context& ctx) { compare(ctx, "less_equal"); }
void map_greater_equal(Context& ctx) { compare(ctx, "greater_equal"); }
void map_and(Context& ctx) { compare(ctx, "and"); }
void map_or(Context& ctx) { compare(ctx, "or"); }
void map_xor(Context& ctx) { compare(ctx, "xor"); }
void map_not(Context& ctx) { ctx.emit("not", {ctx.input(0)}, {}, ctx.output(0)); }

void map_cast(Context& ctx) {
  const auto to = static_cast<int32_t>(ctx.attr_int("to", 0));
  const auto dtype = dtype_of(to);
  if (!dtype) ctx.unsupported("Cast to " + elem_type_name(to) + ", which rtscope has no dtype for");
  ctx.emit("cast_" + std::string(to_string(*dtype)), {ctx.input(0)}, {}, ctx.output(0));
}

// IsNaN: x != x. IsInf: x equals +inf or -inf, as detect_* ask.
void map_is_nan(Context& ctx) {
  require_float(ctx, ctx.input(0));
  ctx.emit("not", {ctx.emit("equal", {ctx.input(0), ctx.input(0)})}, {}, ctx.output(0));
}

void map_is_inf(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const DType dtype = ctx.dtype(ctx.input(0));
  const bool positive = ctx.attr_int("detect_positive", 1) != 0;
  const bool negative = ctx.attr_int("detect_negative", 1) != 0;
  const std::string pos = ctx.add_scalar(ctx.output(0) + "/inf", INFINITY, dtype);
  const std::string neg = ctx.add_scalar(ctx.output(0) + "/minus_inf", -INFINITY, dtype);
  if (positive && negative) {
    ctx.emit("or", {ctx.emit("equal", {ctx.input(0), pos}), ctx.emit("equal", {ctx.input(0), neg})},
             {}, ctx.output(0));
  } else if (positive || negative) {
    ctx.emit("equal", {ctx.input(0), positive ? pos : neg}, {}, ctx.output(0));
  } else {
    // Neither: all false (x > +inf never holds).
    ctx.emit("greater", {ctx.input(0), pos}, {}, ctx.output(0));
  }
}

// Mod: fmod 1 truncates (C's fmod), 0 floors (Python's %); ONNX allows
// fmod 0 only on integers, the rtscope op defines it for floats too.
void map_mod(Context& ctx) {
  ctx.emit("mod", {ctx.input(0), ctx.input(1)}, {{"fmod", ctx.attr_int("fmod", 0)}}, ctx.output(0));
}

void map_where(Context& ctx) {
  // rtscope's where takes (x, y, cond): its output dtype is its first input's.
  ctx.emit("where", {ctx.input(1), ctx.input(2), ctx.input(0)}, {}, ctx.output(0));
}

}  // namespace

void add_elementwise_mappers(MapperTable& t) {
  t["Add"] = {binary<kAdd>};
  t["Sub"] = {binary<kSub>};
  t["Mul"] = {binary<kMul>};
  t["Div"] = {binary<kDiv>};
  t["Pow"] = {map_pow};
  t["Mod"] = {map_mod, 10};
  t["Sum"] = {map_sum};
  t["Mean"] = {map_mean};
  t["Max"] = {map_max};
  t["Min"] = {map_min};
  t["Relu"] = {unary<kRelu>};
  t["Exp"] = {unary<kExp>};
  t["Log"] = {unary<kLog>};
  t["Sqrt"] = {unary<kSqrt>};
  t["Neg"] = {unary<kNeg>};
  t["Abs"] = {unary<kAbs>};
  t["Tanh"] = {unary<kTanh>};
  t["Sigmoid"] = {unary<kSigmoid>};
  t["Erf"] = {unary<kErf>};
  t["Reciprocal"] = {unary<kReciprocal>};
  t["Floor"] = {unary<kFloor>};
  t["Ceil"] = {unary<kCeil>};
  t["Round"] = {unary<kRound>};
  t["Sin"] = {unary<kSin>};
  t["Cos"] = {unary<kCos>};
  t["Tan"] = {unary<kTan>};
  t["Asin"] = {unary<kAsin>};
  t["Acos"] = {unary<kAcos>};
  t["Atan"] = {unary<kAtan>};
  t["Sinh"] = {unary<kSinh>};
  t["Cosh"] = {unary<kCosh>};
  t["Asinh"] = {unary<kAsinh>};
  t["Acosh"] = {unary<kAcosh>};
  t["Atanh"] = {unary<kAtanh>};
  t["Softplus"] = {unary<kSoftplus>};
  t["Softsign"] = {unary<kSoftsign>};
  t["Sign"] = {unary<kSign>};
  t["HardSwish"] = {unary<kHardSwish>};
  t["Mish"] = {unary<kMish>};
  t["LeakyRelu"] = {map_leaky_relu};
  t["Elu"] = {map_elu};
  t["Celu"] = {map_celu};
  t["Selu"] = {map_selu};
  t["HardSigmoid"] = {map_hard_sigmoid};
  t["ThresholdedRelu"] = {map_thresholded_relu};
  t["Shrink"] = {map_shrink};
  t["Clip"] = {map_clip};
  t["PRelu"] = {map_prelu};
  t["Identity"] = {map_identity};
  t["Dropout"] = {map_dropout};
  t["Equal"] = {map_equal};
  t["Less"] = {map_less};
  t["Greater"] = {map_greater};
  t["LessOrEqual"] = {map_less_equal};
  t["GreaterOrEqual"] = {map_greater_equal};
  t["And"] = {map_and};
  t["Or"] = {map_or};
  t["Xor"] = {map_xor};
  t["Not"] = {map_not};
  t["Cast"] = {map_cast};
  t["Where"] = {map_where};
  t["IsNaN"] = {map_is_nan};
  t["IsInf"] = {map_is_inf};
}

}  // namespace rtscope::onnx_import
