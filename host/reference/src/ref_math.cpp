// Reference kernels of the math ops of imported models (op_shapes_math):
// unary functions, binary arithmetic, comparisons and logic (their scalar
// functions in rtscope/op_math.hpp), casts, where, gather, expand, the
// reductions and log_softmax.
#include <cmath>
#include <limits>
#include <map>

#include "ref_ops.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_math.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {
namespace {

// mod on integers exactly (as int64; the values came from integer
// tensors) and on floats in double; an integer divisor of 0 is an error.
void mod_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                std::vector<RefTensor>& out) {
  RefTensor& result = out[0];
  const bool truncated = attr_int(attrs, "fmod") != 0;
  const bool integral = in[0].dtype == DType::i32 || in[0].dtype == DType::i64;
  const std::vector<int64_t> from_a = broadcast_sources(result.shape, in[0].shape);
  const std::vector<int64_t> from_b = broadcast_sources(result.shape, in[1].shape);
  for (std::size_t i = 0; i < result.data.size(); ++i) {
    const double a = in[0].data[from_a[i]];
    const double b = in[1].data[from_b[i]];
    if (!integral) {
      result.data[i] = math::mod(a, b, truncated);
      continue;
    }
    if (b == 0.0) throw InputError("mod: integer division by zero");
    result.data[i] =
        static_cast<double>(math::mod(static_cast<int64_t>(a), static_cast<int64_t>(b), truncated));
  }
}

template <math::Unary Op>
void unary_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                  std::vector<RefTensor>& out) {
  const math::UnaryParams params = math::unary_params(Op, attrs);
  for (std::size_t i = 0; i < out[0].data.size(); ++i)
    out[0].data[i] = math::unary(Op, in[0].data[i], params);
}

template <math::Binary Op>
void binary_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  RefTensor& result = out[0];
  const std::vector<int64_t> from_a = broadcast_sources(result.shape, in[0].shape);
  const std::vector<int64_t> from_b = broadcast_sources(result.shape, in[1].shape);
  for (std::size_t i = 0; i < result.data.size(); ++i) {
    result.data[i] = math::binary(Op, in[0].data[from_a[i]], in[1].data[from_b[i]]);
  }
}

// Rounds the value to what the target dtype can hold.
double cast_value(double x, DType to) {
  switch (to) {
    case DType::f32:
      return static_cast<double>(static_cast<float>(x));
    case DType::f16:
      return static_cast<double>(half_to_float(float_to_half(static_cast<float>(x))));
    case DType::i32:
    case DType::i64:
      return std::isfinite(x) ? std::trunc(x) : 0.0;
    case DType::boolean:
      return x != 0.0 ? 1.0 : 0.0;
  }
  return x;
}

template <DType To>
void cast_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  for (std::size_t i = 0; i < out[0].data.size(); ++i)
    out[0].data[i] = cast_value(in[0].data[i], To);
}

void where_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  RefTensor& result = out[0];
  const auto from_x = broadcast_sources(result.shape, in[0].shape);
  const auto from_y = broadcast_sources(result.shape, in[1].shape);
  const auto from_c = broadcast_sources(result.shape, in[2].shape);
  for (std::size_t i = 0; i < result.data.size(); ++i) {
    result.data[i] = in[2].data[from_c[i]] != 0.0 ? in[0].data[from_x[i]] : in[1].data[from_y[i]];
  }
}

void expand_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  const auto from = broadcast_sources(out[0].shape, in[0].shape);
  for (std::size_t i = 0; i < out[0].data.size(); ++i) out[0].data[i] = in[0].data[from[i]];
}

void gather_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                   std::vector<RefTensor>& out) {
  const RefTensor& data = in[0];
  const RefTensor& indices = in[1];
  const std::size_t axis = positive_axis(attr_int(attrs, "axis"), data.shape.size());
  const AxisSplit split = split_at(data.shape, axis);
  const auto count = static_cast<int64_t>(indices.data.size());
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t k = 0; k < count; ++k) {
      auto index = static_cast<int64_t>(indices.data[k]);
      if (index < -split.length || index >= split.length) {
        throw InputError("gather: index " + std::to_string(index) +
                         " is out of range for a dim of " + std::to_string(split.length));
      }
      if (index < 0) index += split.length;
      for (int64_t i = 0; i < split.inner; ++i) {
        out[0].data[(o * count + k) * split.inner + i] =
            data.data[(o * split.length + index) * split.inner + i];
      }
    }
  }
}

enum class Reduce { sum, mean, max, min, prod, log_sum_exp };

template <Reduce R>
void reduce_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                   std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const std::size_t rank = x.shape.size();
  std::vector<bool> reduced(rank, false);
  for (int64_t a : attr_ints(attrs, "axes")) reduced[positive_axis(a, rank)] = true;
  // Output coordinates: the input's with reduced dims at 0.
  Shape kept;
  for (std::size_t d = 0; d < rank; ++d) kept.push_back(reduced[d] ? 1 : x.shape[d]);
  const int64_t groups = element_count(kept);
  std::vector<std::vector<double>> members(static_cast<std::size_t>(groups));
  std::vector<int64_t> coord(rank, 0);
  for (std::size_t i = 0; i < x.data.size(); ++i) {
    int64_t group = 0;
    for (std::size_t d = 0; d < rank; ++d) group = group * kept[d] + (reduced[d] ? 0 : coord[d]);
    members[group].push_back(x.data[i]);
    for (std::size_t d = rank; d-- > 0;) {
      if (++coord[d] < x.shape[d]) break;
      coord[d] = 0;
    }
  }
  for (int64_t g = 0; g < groups; ++g) {
    const std::vector<double>& v = members[g];
    double r = 0.0;
    switch (R) {
      case Reduce::sum:
      case Reduce::mean:
        for (double e : v) r += e;
        if (R == Reduce::mean) r /= static_cast<double>(v.size());
        break;
      case Reduce::max:
        r = -std::numeric_limits<double>::infinity();
        for (double e : v) r = std::isnan(e) || e > r ? e : r;
        break;
      case Reduce::min:
        r = std::numeric_limits<double>::infinity();
        for (double e : v) r = std::isnan(e) || e < r ? e : r;
        break;
      case Reduce::prod:
        r = 1.0;
        for (double e : v) r *= e;
        break;
      case Reduce::log_sum_exp: {
        double m = -std::numeric_limits<double>::infinity();
        for (double e : v) m = std::max(m, e);
        double s = 0.0;
        for (double e : v) s += std::exp(e - m);
        r = std::isinf(m) ? m : m + std::log(s);
        break;
      }
    }
    out[0].data[g] = r;
  }
}

void log_softmax_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                        std::vector<RefTensor>& out) {
  const std::size_t axis = positive_axis(attr_int(attrs, "axis"), in[0].shape.size());
  const AxisSplit s = split_at(in[0].shape, axis);
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      auto at = [&](int64_t k) { return (o * s.length + k) * s.inner + i; };
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < s.length; ++k) m = std::max(m, in[0].data[at(k)]);
      double sum = 0.0;
      for (int64_t k = 0; k < s.length; ++k) sum += std::exp(in[0].data[at(k)] - m);
      for (int64_t k = 0; k < s.length; ++k)
        out[0].data[at(k)] = in[0].data[at(k)] - m - std::log(sum);
    }
  }
}

template <std::size_t... I>
void add_unary(std::map<std::string, Kernel, std::less<>>& table, std::index_sequence<I...>) {
  ((table[std::string(math::kUnaryNames[I])] = unary_kernel<static_cast<math::Unary>(I)>), ...);
}

template <std::size_t... I>
void add_binary(std::map<std::string, Kernel, std::less<>>& table, std::index_sequence<I...>) {
  ((table[std::string(math::kBinaryNames[I])] = binary_kernel<static_cast<math::Binary>(I)>), ...);
}

// Running sums along `axis` (exclusive: each leaves its own element out;
// reverse: from the end).
void cumsum_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                   std::vector<RefTensor>& out) {
  const Shape& shape = in[0].shape;
  const auto rank = static_cast<int64_t>(shape.size());
  int64_t axis = attr_int(attrs, "axis");
  if (axis < 0) axis += rank;
  const bool exclusive = attr_int(attrs, "exclusive") != 0;
  const bool reverse = attr_int(attrs, "reverse") != 0;
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= shape[d];
  const int64_t length = shape[axis];
  const int64_t outer =
      length == 0 ? 0 : static_cast<int64_t>(in[0].data.size()) / (length * inner);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0.0;
      for (int64_t s = 0; s < length; ++s) {
        const int64_t k = reverse ? length - 1 - s : s;
        const int64_t at = (o * length + k) * inner + i;
        if (exclusive) {
          out[0].data[at] = sum;
          sum += in[0].data[at];
        } else {
          sum += in[0].data[at];
          out[0].data[at] = sum;
        }
      }
    }
  }
}

}  // namespace

void add_math_kernels(KernelTable& t) {
  add_unary(t, std::make_index_sequence<std::size(math::kUnaryNames)>());
  add_binary(t, std::make_index_sequence<std::size(math::kBinaryNames)>());
  t["not"] = [](const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
    for (std::size_t i = 0; i < out[0].data.size(); ++i)
      out[0].data[i] = in[0].data[i] == 0.0 ? 1.0 : 0.0;
  };
  t["cast_f32"] = cast_kernel<DType::f32>;
  t["cast_f16"] = cast_kernel<DType::f16>;
  t["cast_i32"] = cast_kernel<DType::i32>;
  t["cast_i64"] = cast_kernel<DType::i64>;
  t["cast_bool"] = cast_kernel<DType::boolean>;
  t["mod"] = mod_kernel;
  t["where"] = where_kernel;
  t["expand"] = expand_kernel;
  t["gather"] = gather_kernel;
  t["reduce_sum"] = reduce_kernel<Reduce::sum>;
  t["reduce_mean"] = reduce_kernel<Reduce::mean>;
  t["reduce_max"] = reduce_kernel<Reduce::max>;
  t["reduce_min"] = reduce_kernel<Reduce::min>;
  t["reduce_prod"] = reduce_kernel<Reduce::prod>;
  t["reduce_log_sum_exp"] = reduce_kernel<Reduce::log_sum_exp>;
  t["log_softmax"] = log_softmax_kernel;
  t["cumsum"] = cumsum_kernel;
}

}  // namespace rtscope::reference::detail
