// The scalar function of every elementwise math op of the schema (unary
// functions and activations, binary arithmetic, comparisons, logic), written
// once as templates: the float64 reference instantiates them with double,
// the cpu plugin with float. Formulas follow the ONNX operator definitions.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "rtscope/op_schema.hpp"

namespace rtscope::math {

enum class Unary : uint8_t {
  exp,
  log,
  sqrt,
  neg,
  abs,
  tanh,
  sigmoid,
  erf,
  reciprocal,
  floor,
  ceil,
  round,
  sin,
  cos,
  tan,
  asin,
  acos,
  atan,
  sinh,
  cosh,
  asinh,
  acosh,
  atanh,
  softplus,
  softsign,
  sign,
  hard_swish,
  mish,
  leaky_relu,
  elu,
  celu,
  selu,
  hard_sigmoid,
  thresholded_relu,
  shrink,
  clip,
};

inline constexpr std::string_view kUnaryNames[] = {
    "exp",          "log",
    "sqrt",         "neg",
    "abs",          "tanh",
    "sigmoid",      "erf",
    "reciprocal",   "floor",
    "ceil",         "round",
    "sin",          "cos",
    "tan",          "asin",
    "acos",         "atan",
    "sinh",         "cosh",
    "asinh",        "acosh",
    "atanh",        "softplus",
    "softsign",     "sign",
    "hard_swish",   "mish",
    "leaky_relu",   "elu",
    "celu",         "selu",
    "hard_sigmoid", "thresholded_relu",
    "shrink",       "clip",
};

inline std::optional<Unary> unary_from_name(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kUnaryNames); ++i) {
    if (kUnaryNames[i] == name) return static_cast<Unary>(i);
  }
  return std::nullopt;
}

// The attributes of the parametric ones, read once per node.
struct UnaryParams {
  double a = 0.0;  // alpha, bias or min
  double b = 0.0;  // beta, gamma, lambd or max
};

inline UnaryParams unary_params(Unary op, const AttrMap& resolved) {
  using schema::attr_real;
  switch (op) {
    case Unary::leaky_relu:
    case Unary::elu:
    case Unary::celu:
    case Unary::thresholded_relu:
      return {attr_real(resolved, "alpha"), 0.0};
    case Unary::selu:
      return {attr_real(resolved, "alpha"), attr_real(resolved, "gamma")};
    case Unary::hard_sigmoid:
      return {attr_real(resolved, "alpha"), attr_real(resolved, "beta")};
    case Unary::shrink:
      return {attr_real(resolved, "bias"), attr_real(resolved, "lambd")};
    case Unary::clip:
      return {attr_real(resolved, "min"), attr_real(resolved, "max")};
    default:
      return {};
  }
}

template <typename T>
T unary(Unary op, T x, const UnaryParams& p) {
  const T a = static_cast<T>(p.a);
  const T b = static_cast<T>(p.b);
  const T zero = 0;
  const T one = 1;
  switch (op) {
    case Unary::exp:
      return std::exp(x);
    case Unary::log:
      return std::log(x);
    case Unary::sqrt:
      return std::sqrt(x);
    case Unary::neg:
      return -x;
    case Unary::abs:
      return std::fabs(x);
    case Unary::tanh:
      return std::tanh(x);
    case Unary::sigmoid:
      return one / (one + std::exp(-x));
    case Unary::erf:
      return std::erf(x);
    case Unary::reciprocal:
      return one / x;
    case Unary::floor:
      return std::floor(x);
    case Unary::ceil:
      return std::ceil(x);
    case Unary::round:
      return std::nearbyint(x);  // halves to even (default rounding mode)
    case Unary::sin:
      return std::sin(x);
    case Unary::cos:
      return std::cos(x);
    case Unary::tan:
      return std::tan(x);
    case Unary::asin:
      return std::asin(x);
    case Unary::acos:
      return std::acos(x);
    case Unary::atan:
      return std::atan(x);
    case Unary::sinh:
      return std::sinh(x);
    case Unary::cosh:
      return std::cosh(x);
    case Unary::asinh:
      return std::asinh(x);
    case Unary::acosh:
      return std::acosh(x);
    case Unary::atanh:
      return std::atanh(x);
    case Unary::softplus:
      return x > T(20) ? x : std::log1p(std::exp(x));
    case Unary::softsign:
      return x / (one + std::fabs(x));
    case Unary::sign:
      return x > zero ? one : (x < zero ? -one : zero);
    case Unary::hard_swish:
      return x * std::fmax(zero, std::fmin(one, x / T(6) + T(0.5)));
    case Unary::mish:
      return x * std::tanh(x > T(20) ? x : std::log1p(std::exp(x)));
    case Unary::leaky_relu:
      return x < zero ? a * x : x;
    case Unary::elu:
      return x < zero ? a * (std::exp(x) - one) : x;
    case Unary::celu:
      return std::fmax(zero, x) + std::fmin(zero, a * (std::exp(x / a) - one));
    case Unary::selu:
      return x <= zero ? b * (a * std::exp(x) - a) : b * x;
    case Unary::hard_sigmoid:
      return std::fmax(zero, std::fmin(one, a * x + b));
    case Unary::thresholded_relu:
      return x > a ? x : zero;
    case Unary::shrink:
      return x < -b ? x + a : (x > b ? x - a : zero);
    case Unary::clip:
      return x < a ? a : (x > b ? b : x);
  }
  return x;
}

enum class Binary : uint8_t {
  div,
  pow,
  max,
  min,
  prelu,
  equal,
  less,
  greater,
  less_equal,
  greater_equal,
  logical_and,
  logical_or,
  logical_xor,
};

inline constexpr std::string_view kBinaryNames[] = {
    "div",     "pow",        "max",           "min", "prelu", "equal", "less",
    "greater", "less_equal", "greater_equal", "and", "or",    "xor",
};

inline std::optional<Binary> binary_from_name(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kBinaryNames); ++i) {
    if (kBinaryNames[i] == name) return static_cast<Binary>(i);
  }
  return std::nullopt;
}

// Comparisons and logic give 0 or 1.
inline bool gives_bool(Binary op) { return op >= Binary::equal; }

template <typename T>
T binary(Binary op, T x, T y) {
  switch (op) {
    case Binary::div:
      return x / y;
    case Binary::pow:
      return std::pow(x, y);
    // NaN propagates as in numpy's maximum/minimum.
    case Binary::max:
      return std::isnan(x) || x > y ? x : y;
    case Binary::min:
      return std::isnan(x) || x < y ? x : y;
    case Binary::prelu:
      return x < T(0) ? y * x : x;
    case Binary::equal:
      return x == y;
    case Binary::less:
      return x < y;
    case Binary::greater:
      return x > y;
    case Binary::less_equal:
      return x <= y;
    case Binary::greater_equal:
      return x >= y;
    case Binary::logical_and:
      return (x != T(0)) && (y != T(0));
    case Binary::logical_or:
      return (x != T(0)) || (y != T(0));
    case Binary::logical_xor:
      return (x != T(0)) != (y != T(0));
  }
  return x;
}

// mod: the remainder of a / b, truncated (sign of a, C's fmod) when
// `truncated`, else floored (sign of b, Python's %). Integers are exact;
// a zero integer divisor is the caller's to reject. A divisor of -1 gives
// 0 without dividing, since INT_MIN % -1 overflows.
template <typename T>
T mod(T a, T b, bool truncated) {
  T r;
  if constexpr (std::is_integral_v<T>) {
    if (b == -1) return 0;
    r = a % b;
  } else {
    r = std::fmod(a, b);
  }
  if (!truncated && r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// top_k's order: whether element (a, at index ia) comes before (b, ib)
// among the k largest (or smallest). NaN counts as larger than any
// number; equal values keep their index order, as ONNX's TopK requires.
template <typename T>
bool top_k_before(T a, int64_t ia, T b, int64_t ib, bool largest) {
  const auto greater = [](T x, T y) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && !std::isnan(y);
    }
    return x > y;
  };
  const bool ab = largest ? greater(a, b) : greater(b, a);
  const bool ba = largest ? greater(b, a) : greater(a, b);
  return ab || (!ba && ia < ib);
}

}  // namespace rtscope::math
