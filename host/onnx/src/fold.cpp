// fold_node(): import-time evaluation of nodes whose inputs are all known,
// so the shape arithmetic of dynamic exports (Shape → Gather → Concat →
// Reshape) becomes static attributes. Values are computed in double (exact
// for integers up to 2^53, which covers every shape) and stored in the
// node's output dtype.
#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>

#include "context.hpp"
#include "onnx_tensor.hpp"
#include "rtscope/error.hpp"

namespace rtscope::onnx_import {
namespace {

// Folding stops at this many output elements: a larger result is data, not
// shape arithmetic, and stays a node.
constexpr int64_t kMaxFoldElements = int64_t{1} << 16;

struct Value {
  DType dtype = DType::i64;
  Shape shape;
  std::vector<double> data;
};

Value read(const Tensor& t) { return {t.dtype(), t.shape(), t.to_doubles()}; }

double to_int64_range(double v) {
  // INT64_MAX (a common "to the end" Slice bound) rounds up in double.
  if (v >= 9.2233720368547758e18) return 9.2233720368547758e18;
  if (v <= -9.2233720368547758e18) return -9.2233720368547758e18;
  return v;
}

Tensor write(const Value& v) {
  Tensor t = Tensor::empty(v.dtype, v.shape);
  for (std::size_t i = 0; i < v.data.size(); ++i) {
    const double x = v.data[i];
    switch (v.dtype) {
      case DType::f32:
        t.data_as<float>()[i] = static_cast<float>(x);
        break;
      case DType::f16:
        t.data_as<uint16_t>()[i] = float_to_half(static_cast<float>(x));
        break;
      case DType::i32:
        t.data_as<int32_t>()[i] =
            static_cast<int32_t>(std::clamp(std::trunc(x), -2147483648.0, 2147483647.0));
        break;
      case DType::i64: {
        const double r = to_int64_range(std::trunc(x));
        t.data_as<int64_t>()[i] = r >= 9.2233720368547758e18    ? INT64_MAX
                                  : r <= -9.2233720368547758e18 ? INT64_MIN
                                                                : static_cast<int64_t>(r);
        break;
      }
      case DType::boolean:
        t.data_as<uint8_t>()[i] = x != 0;
        break;
    }
  }
  return t;
}

int64_t count(const Shape& s) { return element_count(s); }

int64_t axis_of(Context& ctx, int64_t axis, std::size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

// Numpy broadcasting of two shapes.
bool broadcast(const Shape& a, const Shape& b, Shape& out) {
  const std::size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

// Index of `out`'s flat element `i` in an operand of `shape` broadcast to it.
int64_t source_index(const Shape& out, const Shape& shape, int64_t i) {
  int64_t index = 0;
  int64_t stride = 1;
  for (std::size_t d = out.size(); d-- > 0;) {
    const int64_t coord = i % out[d];
    i /= out[d];
    const std::size_t offset = out.size() - shape.size();
    if (d >= offset) {
      const int64_t dim = shape[d - offset];
      index += (dim == 1 ? 0 : coord) * stride;
      stride *= dim;
    }
  }
  return index;
}

bool elementwise(Context& ctx, const std::vector<Value>& in, DType out_dtype,
                 const std::function<double(const std::vector<double>&)>& fn, Value& out) {
  Shape shape = in[0].shape;
  for (std::size_t i = 1; i < in.size(); ++i) {
    Shape next;
    if (!broadcast(shape, in[i].shape, next)) ctx.fail("operands do not broadcast");
    shape = next;
  }
  if (count(shape) > kMaxFoldElements) return false;
  out = {out_dtype, shape, {}};
  std::vector<double> args(in.size());
  for (int64_t i = 0; i < count(shape); ++i) {
    for (std::size_t k = 0; k < in.size(); ++k)
      args[k] = in[k].data[source_index(shape, in[k].shape, i)];
    out.data.push_back(fn(args));
  }
  return true;
}

bool is_int(DType d) { return d == DType::i32 || d == DType::i64; }

Value constant_attr(Context& ctx) {
  const onnx::NodeProto& node = ctx.node();
  if (node.attribute_size() != 1) ctx.fail("Constant needs exactly one value attribute");
  const onnx::AttributeProto& a = node.attribute(0);
  if (a.name() == "value") {
    TensorSource source{ctx.where() + ": attribute 'value'", ctx.dir, nullptr};
    return read(tensor_from_proto(a.t(), source));
  }
  if (a.name() == "value_float") return {DType::f32, {}, {a.f()}};
  if (a.name() == "value_int") return {DType::i64, {}, {static_cast<double>(a.i())}};
  if (a.name() == "value_floats") {
    return {DType::f32, {a.floats_size()}, {a.floats().begin(), a.floats().end()}};
  }
  if (a.name() == "value_ints") {
    Value v{DType::i64, {a.ints_size()}, {}};
    for (int64_t x : a.ints()) v.data.push_back(static_cast<double>(x));
    return v;
  }
  ctx.unsupported("Constant attribute '" + a.name() + "' is not supported");
}

// Flat index of a coordinate in a row-major shape.
int64_t flat(const Shape& shape, const std::vector<int64_t>& coord) {
  int64_t index = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) index = index * shape[d] + coord[d];
  return index;
}

std::vector<int64_t> coords(const Shape& shape, int64_t i) {
  std::vector<int64_t> c(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    c[d] = i % shape[d];
    i /= shape[d];
  }
  return c;
}

// Evaluates the current node; false when it does not fold.
bool evaluate(Context& ctx, const std::vector<Value>& in, std::vector<Value>& out) {
  const std::string& op = ctx.node().op_type();
  auto ints = [&](std::size_t i) {
    std::vector<int64_t> v;
    for (double x : in.at(i).data) v.push_back(static_cast<int64_t>(to_int64_range(x)));
    return v;
  };
  out.resize(1);
  if (op == "Constant") {
    out[0] = constant_attr(ctx);
    return true;
  }
  if (op == "Identity") {
    out[0] = in[0];
    return true;
  }
  if (op == "Cast") {
    const auto dtype = dtype_of(static_cast<int32_t>(ctx.attr_int("to", 1)));
    if (!dtype) return false;
    out[0] = in[0];
    out[0].dtype = *dtype;
    if (is_int(*dtype)) {
      for (double& x : out[0].data) x = std::trunc(x);
    }
    if (*dtype == DType::boolean) {
      for (double& x : out[0].data) x = x != 0;
    }
    return true;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    std::vector<int64_t> axes = ctx.opset() >= 13
                                    ? (in.size() > 1 ? ints(1) : std::vector<int64_t>{})
                                    : ctx.attr_ints("axes");
    out[0] = in[0];
    Shape& shape = out[0].shape;
    if (op == "Unsqueeze") {
      const std::size_t rank = shape.size() + axes.size();
      for (int64_t& a : axes) a = axis_of(ctx, a, rank);
      std::sort(axes.begin(), axes.end());
      for (int64_t a : axes) shape.insert(shape.begin() + a, 1);
    } else {
      if (axes.empty()) {
        std::erase(shape, 1);
      } else {
        for (int64_t& a : axes) a = axis_of(ctx, a, shape.size());
        std::sort(axes.rbegin(), axes.rend());
        for (int64_t a : axes) shape.erase(shape.begin() + a);
      }
    }
    return true;
  }
  if (op == "Concat") {
    const std::size_t rank = in[0].shape.size();
    const int64_t axis = axis_of(ctx, ctx.attr_int("axis", 0), rank);
    Shape shape = in[0].shape;
    shape[axis] = 0;
    for (const Value& v : in) {
      if (v.shape.size() != rank) ctx.fail("Concat inputs differ in rank");
      if (__builtin_add_overflow(shape[axis], v.shape[axis], &shape[axis])) {
        ctx.fail("Concat result dim does not fit in 64 bits");
      }
    }
    if (count(shape) > kMaxFoldElements) return false;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
    out[0] = {in[0].dtype, shape, {}};
    for (int64_t o = 0; o < outer; ++o) {
      for (const Value& v : in) {
        const int64_t block = count(v.shape) / std::max<int64_t>(outer, 1);
        for (int64_t k = 0; k < block; ++k) out[0].data.push_back(v.data[o * block + k]);
      }
    }
    return true;
  }
  if (op == "Gather") {
    const Value& data = in[0];
    if (data.shape.empty()) return false;
    const int64_t axis = axis_of(ctx, ctx.attr_int("axis", 0), data.shape.size());
    const Shape& idx_shape = in[1].shape;
    Shape shape(data.shape.begin(), data.shape.begin() + axis);
    shape.insert(shape.end(), idx_shape.begin(), idx_shape.end());
    shape.insert(shape.end(), data.shape.begin() + axis + 1, data.shape.end());
    if (count(shape) > kMaxFoldElements) return false;
    out[0] = {data.dtype, shape, {}};
    const std::vector<int64_t> idx = ints(1);
    for (int64_t i = 0; i < count(shape); ++i) {
      const std::vector<int64_t> c = coords(shape, i);
      std::vector<int64_t> src(c.begin(), c.begin() + axis);
      const std::vector<int64_t> ic(c.begin() + axis,
                                    c.begin() + axis + static_cast<int64_t>(idx_shape.size()));
      int64_t k = idx[static_cast<std::size_t>(flat(idx_shape, ic))];
      if (k < 0) k += data.shape[axis];
      if (k < 0 || k >= data.shape[axis])
        ctx.fail("Gather index " + std::to_string(k) + " is out of range");
      src.push_back(k);
      src.insert(src.end(), c.begin() + axis + static_cast<int64_t>(idx_shape.size()), c.end());
      out[0].data.push_back(data.data[flat(data.shape, src)]);
    }
    return true;
  }
  if (op == "Reshape") {
    std::vector<int64_t> target = ctx.opset() >= 5 ? ints(1) : ctx.attr_ints("shape");
    const bool allow_zero = ctx.attr_int("allowzero", 0) != 0;
    int64_t known = 1;
    int infer = -1;
    for (std::size_t d = 0; d < target.size(); ++d) {
      if (target[d] == 0 && !allow_zero) {
        if (d >= in[0].shape.size())
          ctx.fail("Reshape copies dim " + std::to_string(d) + " the input lacks");
        target[d] = in[0].shape[d];
      }
      if (target[d] == -1) {
        if (infer >= 0) ctx.fail("Reshape has two -1 dims");
        infer = static_cast<int>(d);
      } else if (target[d] < 0) {
        ctx.fail("Reshape dim " + std::to_string(target[d]) + " is negative");
      } else if (__builtin_mul_overflow(known, target[d], &known)) {
        ctx.fail("Reshape target " + shape_to_string(Shape(target.begin(), target.end())) +
                 " has more elements than fit in 64 bits");
      }
    }
    const int64_t n = count(in[0].shape);
    if (infer >= 0) {
      if (known == 0 || n % known != 0) ctx.fail("Reshape cannot infer the -1 dim");
      target[infer] = n / known;
    }
    if (count(target) != n) ctx.fail("Reshape changes the element count");
    out[0] = in[0];
    out[0].shape = target;
    return true;
  }
  if (op == "Shape") {
    // The input's dims, not its values: see fold_node.
    return false;
  }
  if (op == "HannWindow" || op == "HammingWindow" || op == "BlackmanWindow") {
    // Cosine windows of a known size (ONNX's definitions).
    const auto n = static_cast<int64_t>(in.at(0).data.at(0));
    if (n < 0 || n > kMaxFoldElements) return false;
    const auto dtype = dtype_of(static_cast<int32_t>(ctx.attr_int("output_datatype", 1)));
    if (!dtype)
      ctx.unsupported("output_datatype " +
                      elem_type_name(static_cast<int32_t>(ctx.attr_int("output_datatype", 1))));
    const double denominator =
        ctx.attr_int("periodic", 1) != 0 ? static_cast<double>(n) : static_cast<double>(n - 1);
    out[0] = {*dtype, {n}, {}};
    const double pi = 3.14159265358979323846;
    for (int64_t i = 0; i < n; ++i) {
      const double phase = 2.0 * pi * static_cast<double>(i) / denominator;
      double value = 0.0;
      if (op == "HannWindow") value = 0.5 - 0.5 * std::cos(phase);
      if (op == "HammingWindow") value = 25.0 / 46.0 - (1.0 - 25.0 / 46.0) * std::cos(phase);
      if (op == "BlackmanWindow")
        value = 0.42 - 0.5 * std::cos(phase) + 0.08 * std::cos(2.0 * phase);
      out[0].data.push_back(value);
    }
    return true;
  }
  if (op == "Range") {
    const double start = in[0].data.at(0), limit = in[1].data.at(0), delta = in[2].data.at(0);
    if (delta == 0) ctx.fail("Range delta is 0");
    const double n = std::max(0.0, std::ceil((limit - start) / delta));
    if (n > kMaxFoldElements) return false;
    out[0] = {in[0].dtype, {static_cast<int64_t>(n)}, {}};
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) out[0].data.push_back(start + i * delta);
    return true;
  }
  if (op == "ConstantOfShape") {
    const Shape shape = ints(0);
    for (int64_t d : shape) {
      if (d < 0) ctx.fail("ConstantOfShape dim " + std::to_string(d) + " is negative");
    }
    if (count(shape) > kMaxFoldElements) return false;
    Value fill{DType::f32, {1}, {0.0}};
    if (const auto* a = ctx.attr("value")) {
      TensorSource source{ctx.where() + ": attribute 'value'", ctx.dir, nullptr};
      fill = read(tensor_from_proto(a->t(), source));
      if (fill.data.size() != 1) ctx.fail("ConstantOfShape value must hold one element");
    }
    out[0] = {fill.dtype, shape,
              std::vector<double>(static_cast<std::size_t>(count(shape)), fill.data[0])};
    return true;
  }
  if (op == "Slice" && ctx.opset() >= 10) {
    const Value& data = in[0];
    const std::vector<int64_t> starts = ints(1), ends = ints(2);
    std::vector<int64_t> axes, steps;
    if (in.size() > 3 && !in[3].shape.empty()) axes = ints(3);
    if (in.size() > 4) steps = ints(4);
    if (axes.empty()) {
      for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    std::vector<int64_t> begin(data.shape.size(), 0), step(data.shape.size(), 1);
    Shape shape = data.shape;
    for (std::size_t i = 0; i < axes.size() && i < starts.size() && i < ends.size(); ++i) {
      const int64_t a = axis_of(ctx, axes[i], data.shape.size());
      const int64_t dim = data.shape[a];
      const int64_t st = steps[i];
      if (st == 0) ctx.fail("Slice step is 0");
      auto clampi = [&](int64_t v, int64_t lo, int64_t hi) {
        return std::clamp(v < 0 ? v + dim : v, lo, hi);
      };
      int64_t s = st > 0 ? clampi(starts[i], 0, dim) : clampi(starts[i], -1, dim - 1);
      int64_t e = st > 0 ? clampi(ends[i], 0, dim) : clampi(ends[i], -1, dim - 1);
      if (ends[i] < -dim && st < 0) e = -1;
      // In 128 bits: a step near INT64_MAX must not wrap the arithmetic.
      const __int128 wide_step = st;
      const __int128 wide_len = st > 0 ? (__int128{e} - s + wide_step - 1) / wide_step
                                       : (__int128{s} - e - wide_step - 1) / -wide_step;
      const int64_t len = wide_len > 0 ? static_cast<int64_t>(wide_len) : 0;
      begin[a] = s;
      step[a] = st;
      shape[a] = len;
    }
    if (count(shape) > kMaxFoldElements) return false;
    out[0] = {data.dtype, shape, {}};
    for (int64_t i = 0; i < count(shape); ++i) {
      std::vector<int64_t> c = coords(shape, i);
      for (std::size_t d = 0; d < c.size(); ++d) c[d] = begin[d] + c[d] * step[d];
      out[0].data.push_back(data.data[flat(data.shape, c)]);
    }
    return true;
  }
  using Args = const std::vector<double>&;
  const DType d0 = in.empty() ? DType::f32 : in[0].dtype;
  const bool integral = is_int(d0);
  if (op == "Add")
    return elementwise(
        ctx, in, d0, [](Args a) { return a[0] + a[1]; }, out[0]);
  if (op == "Sub")
    return elementwise(
        ctx, in, d0, [](Args a) { return a[0] - a[1]; }, out[0]);
  if (op == "Mul")
    return elementwise(
        ctx, in, d0, [](Args a) { return a[0] * a[1]; }, out[0]);
  if (op == "Div") {
    return elementwise(
        ctx, in, d0,
        [&](Args a) {
          if (integral && a[1] == 0) ctx.fail("integer division by zero");
          // Integer Div truncates toward zero, as numpy's int division in ONNX's reference does
          // not: ONNX specifies C truncation.
          return integral ? std::trunc(a[0] / a[1]) : a[0] / a[1];
        },
        out[0]);
  }
  if (op == "Mod" && integral && ctx.attr_int("fmod", 0) == 0) {
    return elementwise(
        ctx, in, d0,
        [&](Args a) {
          if (a[1] == 0) ctx.fail("integer modulo by zero");
          double r = std::fmod(a[0], a[1]);
          if (r != 0 && ((r < 0) != (a[1] < 0))) r += a[1];
          return r;
        },
        out[0]);
  }
  if (op == "Neg")
    return elementwise(
        ctx, in, d0, [](Args a) { return -a[0]; }, out[0]);
  if (op == "Abs")
    return elementwise(
        ctx, in, d0, [](Args a) { return std::fabs(a[0]); }, out[0]);
  if (op == "Relu")
    return elementwise(
        ctx, in, d0, [](Args a) { return a[0] < 0 ? 0.0 : a[0]; }, out[0]);
  if (op == "Floor" && !integral)
    return elementwise(
        ctx, in, d0, [](Args a) { return std::floor(a[0]); }, out[0]);
  if (op == "Ceil" && !integral)
    return elementwise(
        ctx, in, d0, [](Args a) { return std::ceil(a[0]); }, out[0]);
  if (op == "Sqrt" && !integral)
    return elementwise(
        ctx, in, d0, [](Args a) { return std::sqrt(a[0]); }, out[0]);
  if (op == "Min" || op == "Max") {
    const bool is_min = op == "Min";
    return elementwise(
        ctx, in, d0,
        [is_min](Args a) {
          double r = a[0];
          for (double x : a) r = is_min ? std::min(r, x) : std::max(r, x);
          return r;
        },
        out[0]);
  }
  if (op == "Equal")
    return elementwise(
        ctx, in, DType::boolean, [](Args a) { return double(a[0] == a[1]); }, out[0]);
  if (op == "Less")
    return elementwise(
        ctx, in, DType::boolean, [](Args a) { return double(a[0] < a[1]); }, out[0]);
  if (op == "Greater")
    return elementwise(
        ctx, in, DType::boolean, [](Args a) { return double(a[0] > a[1]); }, out[0]);
  if (op == "Not")
    return elementwise(
        ctx, in, DType::boolean, [](Args a) { return double(a[0] == 0); }, out[0]);
  if (op == "Where") {
    return elementwise(
        ctx, in, in.at(1).dtype, [](Args a) { return a[0] != 0 ? a[1] : a[2]; }, out[0]);
  }
  if (op == "Expand") {
    const std::vector<int64_t> target = ints(1);
    Value ones{in[0].dtype, Shape(target.begin(), target.end()), {}};
    for (int64_t d : ones.shape) {
      if (d < 0) ctx.fail("Expand dim is negative");
    }
    Shape shape;
    if (!broadcast(in[0].shape, ones.shape, shape)) ctx.fail("Expand shape does not broadcast");
    if (count(shape) > kMaxFoldElements) return false;
    out[0] = {in[0].dtype, shape, {}};
    for (int64_t i = 0; i < count(shape); ++i)
      out[0].data.push_back(in[0].data[source_index(shape, in[0].shape, i)]);
    return true;
  }
  return false;
}

}  // namespace

bool fold_node(Context& ctx) {
  const onnx::NodeProto& node = ctx.node();
  const std::string& op = node.op_type();
  // Shape and Size need only the input's type.
  if ((op == "Shape" || op == "Size") && ctx.has_input(0) && ctx.is_static(ctx.input(0))) {
    const Shape shape = ctx.static_shape(ctx.input(0));
    Value v{DType::i64, {}, {}};
    if (op == "Size") {
      v.data.push_back(static_cast<double>(element_count(shape)));
    } else {
      const auto rank = static_cast<int64_t>(shape.size());
      int64_t start = ctx.attr_int("start", 0);
      int64_t end = ctx.attr_int("end", rank);
      start = std::clamp(start < 0 ? start + rank : start, int64_t{0}, rank);
      end = std::clamp(end < 0 ? end + rank : end, int64_t{0}, rank);
      for (int64_t d = start; d < end; ++d) v.data.push_back(static_cast<double>(shape[d]));
      v.shape = {static_cast<int64_t>(v.data.size())};
    }
    ctx.constants[ctx.output(0)] = write(v);
    return true;
  }
  // EyeLike needs only the input's shape too.
  if (op == "EyeLike" && ctx.has_input(0) && ctx.is_static(ctx.input(0))) {
    const Shape shape = ctx.static_shape(ctx.input(0));
    if (shape.size() != 2) ctx.fail("EyeLike input must have rank 2");
    if (element_count(shape) > kMaxFoldElements) return false;
    const int64_t k = ctx.attr_int("k", 0);
    const auto to = ctx.has_attr("dtype") ? dtype_of(static_cast<int32_t>(ctx.attr_int("dtype", 1)))
                                          : std::optional<DType>(ctx.dtype(ctx.input(0)));
    if (!to)
      ctx.unsupported("EyeLike dtype " +
                      elem_type_name(static_cast<int32_t>(ctx.attr_int("dtype", 1))));
    Value v{*to, shape, std::vector<double>(static_cast<std::size_t>(element_count(shape)), 0.0)};
    for (int64_t r = 0; r < shape[0]; ++r) {
      if (r + k >= 0 && r + k < shape[1]) v.data[r * shape[1] + r + k] = 1.0;
    }
    ctx.constants[ctx.output(0)] = write(v);
    return true;
  }
  std::vector<Value> inputs;
  for (std::size_t i = 0; i < ctx.input_count(); ++i) {
    if (!ctx.has_input(i)) {
      inputs.push_back({DType::i64, {0}, {}});  // absent optional input
      continue;
    }
    const Tensor* t = ctx.constant(ctx.input(i));
    if (t == nullptr || t->numel() > kMaxFoldElements) return false;
    inputs.push_back(read(*t));
  }
  if (node.output_size() != 1) return false;
  std::vector<Value> outputs;
  if (!evaluate(ctx, inputs, outputs)) return false;
  // A graph output computed here still needs a node producing it; the
  // importer emits an identity for it at the end.
  ctx.constants[ctx.output(0)] = write(outputs[0]);
  return true;
}

}  // namespace rtscope::onnx_import
