// Schemas of the math ops that imported models use: float unary functions
// and activations, div/pow/max/min/prelu, comparisons and logic (bool
// out), casts, where, gather, expand, the reductions and log_softmax.
#include <limits>

#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

std::vector<ValueType> same_type(const std::vector<ValueType>& in, const AttrMap&) {
  return {in[0]};
}

std::vector<ValueType> broadcast_pair(const std::vector<ValueType>& in, const AttrMap&) {
  return {ValueType{in[0].dtype, broadcast_shapes("a", in[0], "b", in[1])}};
}

OpSchema make(std::string name, std::vector<InputSpec> inputs, InferFn infer,
              std::vector<AttrSpec> attrs = {}) {
  return fixed_inputs(std::move(name), std::move(inputs), std::move(attrs), std::move(infer));
}

AttrSpec real(std::string name, double value) {
  return AttrSpec{std::move(name), AttrKind::real, false, value};
}

// The remainder of a / b: truncated (sign of a, C's fmod) with fmod 1,
// floored (sign of b, Python's %) with fmod 0.
std::vector<ValueType> infer_mod(const std::vector<ValueType>& in, const AttrMap& attrs) {
  if (in[0].dtype == DType::boolean) fail(describe("a", in[0]) + " must be f32, f16, i32 or i64");
  const int64_t fmod = attr_int(attrs, "fmod");
  if (fmod != 0 && fmod != 1) fail("fmod must be 0 or 1, got " + std::to_string(fmod));
  return broadcast_pair(in, attrs);
}

std::vector<ValueType> infer_where(const std::vector<ValueType>& in, const AttrMap&) {
  const SymShape xy = broadcast_shapes("x", in[0], "y", in[1]);
  return {ValueType{in[0].dtype,
                    broadcast_shapes("x and y", ValueType{in[0].dtype, xy}, "cond", in[2])}};
}

std::vector<ValueType> infer_gather(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& data = in[0];
  if (data.shape.empty()) fail(describe("data", data) + " must have rank >= 1");
  const std::size_t axis = normalize_axis(attr_int(attrs, "axis"), data.shape.size());
  SymShape out(data.shape.begin(), data.shape.begin() + static_cast<std::ptrdiff_t>(axis));
  out.insert(out.end(), in[1].shape.begin(), in[1].shape.end());
  out.insert(out.end(), data.shape.begin() + static_cast<std::ptrdiff_t>(axis) + 1,
             data.shape.end());
  return {ValueType{data.dtype, out}};
}

std::vector<ValueType> infer_expand(const std::vector<ValueType>& in, const AttrMap& attrs) {
  ValueType target{in[0].dtype, {}};
  for (int64_t d : attr_ints(attrs, "shape")) {
    if (d < 0) fail("expand shape dims must be >= 0, got " + std::to_string(d));
    target.shape.push_back(Dim::fixed(d));
  }
  return {ValueType{in[0].dtype, broadcast_shapes("x", in[0], "shape", target)}};
}

// Reductions over `axes` (each once, in range); keepdims keeps them as 1.
std::vector<ValueType> infer_reduce(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  std::vector<bool> reduced(x.shape.size(), false);
  for (int64_t axis : attr_ints(attrs, "axes")) {
    const std::size_t a = normalize_axis(axis, x.shape.size(), "axes entry");
    if (reduced[a]) fail("axes names axis " + std::to_string(a) + " twice");
    reduced[a] = true;
  }
  const bool keep = attr_int(attrs, "keepdims") != 0;
  ValueType out{x.dtype, {}};
  for (std::size_t d = 0; d < x.shape.size(); ++d) {
    if (!reduced[d]) {
      out.shape.push_back(x.shape[d]);
    } else if (keep) {
      out.shape.push_back(Dim::fixed(1));
    } else if (x.shape[d].is_static() && x.shape[d].value == 0) {
      fail("cannot reduce the empty axis " + std::to_string(d) + " of " + describe("x", x));
    }
  }
  return {out};
}

std::vector<ValueType> infer_axis_op(const std::vector<ValueType>& in, const AttrMap& attrs) {
  if (in[0].shape.empty()) fail(describe("x", in[0]) + " must have rank >= 1");
  normalize_axis(attr_int(attrs, "axis"), in[0].shape.size());
  return {in[0]};
}

// cumsum: running sums along `axis` of any number type.
std::vector<ValueType> infer_cumsum(const std::vector<ValueType>& in, const AttrMap& attrs) {
  if (in[0].dtype == DType::boolean) fail(describe("x", in[0]) + " must be a number, not bool");
  return infer_axis_op(in, attrs);
}

// Unary float functions: the names docs/ops.md lists.
const std::vector<std::string>& float_unary_ops() {
  static const std::vector<std::string> names = {
      "exp",   "log",        "sqrt",     "neg",      "abs",   "tanh",       "sigmoid",
      "erf",   "reciprocal", "floor",    "ceil",     "round", "sin",        "cos",
      "tan",   "asin",       "acos",     "atan",     "sinh",  "cosh",       "asinh",
      "acosh", "atanh",      "softplus", "softsign", "sign",  "hard_swish", "mish"};
  return names;
}

}  // namespace

void add_math_schemas(std::vector<OpSchema>& schemas) {
  const InputSpec x{"x", InputDtype::floating};
  for (const std::string& name : float_unary_ops()) schemas.push_back(make(name, {x}, same_type));
  schemas.push_back(make("leaky_relu", {x}, same_type, {real("alpha", 0.01)}));
  schemas.push_back(make("elu", {x}, same_type, {real("alpha", 1.0)}));
  schemas.push_back(make("celu", {x}, same_type, {real("alpha", 1.0)}));
  schemas.push_back(
      make("selu", {x}, same_type,
           {real("alpha", 1.67326319217681884765625), real("gamma", 1.05070102214813232421875)}));
  schemas.push_back(make("hard_sigmoid", {x}, same_type, {real("alpha", 0.2), real("beta", 0.5)}));
  schemas.push_back(make("thresholded_relu", {x}, same_type, {real("alpha", 1.0)}));
  schemas.push_back(make("shrink", {x}, same_type, {real("bias", 0.0), real("lambd", 0.5)}));
  schemas.push_back(make("clip", {x}, same_type,
                         {real("min", -std::numeric_limits<double>::infinity()),
                          real("max", std::numeric_limits<double>::infinity())}));
  const InputSpec a{"a", InputDtype::floating};
  const InputSpec b{"b", InputDtype::floating};
  for (const char* name : {"div", "pow", "max", "min", "prelu"}) {
    schemas.push_back(make(name, {a, b}, broadcast_pair));
  }
  schemas.push_back(make("mod", {{"a", InputDtype::any}, {"b", InputDtype::same_as_first}},
                         infer_mod, {AttrSpec{"fmod", AttrKind::integer, false, int64_t{0}}}));
  for (const char* name : {"equal", "less", "greater", "less_equal", "greater_equal"}) {
    OpSchema schema =
        make(name, {{"a", InputDtype::any}, {"b", InputDtype::same_as_first}}, broadcast_pair);
    schema.infer = [](const std::vector<ValueType>& in, const AttrMap& attrs) {
      if (in[1].dtype != in[0].dtype)
        fail("dtype mismatch: " + describe("b", in[1]) + " must have the dtype of " +
             describe("a", in[0]));
      std::vector<ValueType> out = broadcast_pair(in, attrs);
      out[0].dtype = DType::boolean;
      return out;
    };
    schema.output_dtype = OutputDtype::boolean;
    schemas.push_back(std::move(schema));
  }
  for (const char* name : {"and", "or", "xor"}) {
    OpSchema schema =
        make(name, {{"a", InputDtype::boolean}, {"b", InputDtype::boolean}}, broadcast_pair);
    schema.output_dtype = OutputDtype::boolean;
    schemas.push_back(std::move(schema));
  }
  OpSchema logical_not = make("not", {{"x", InputDtype::boolean}}, same_type);
  logical_not.output_dtype = OutputDtype::boolean;
  schemas.push_back(std::move(logical_not));
  const std::pair<DType, OutputDtype> casts[] = {{DType::f32, OutputDtype::f32},
                                                 {DType::f16, OutputDtype::f16},
                                                 {DType::i32, OutputDtype::i32},
                                                 {DType::i64, OutputDtype::i64},
                                                 {DType::boolean, OutputDtype::boolean}};
  for (const auto& [dtype, rule] : casts) {
    OpSchema cast = make("cast_" + std::string(to_string(dtype)), {{"x", InputDtype::any}},
                         // A structured binding is captured by copy into a named
                         // variable (clang rejects capturing the binding itself).
                         [to = dtype](const std::vector<ValueType>& in, const AttrMap&) {
                           return std::vector<ValueType>{ValueType{to, in[0].shape}};
                         });
    cast.output_dtype = rule;
    schemas.push_back(std::move(cast));
  }
  schemas.push_back(make(
      "where",
      {{"x", InputDtype::any}, {"y", InputDtype::same_as_first}, {"cond", InputDtype::boolean}},
      infer_where));
  schemas.push_back(make("gather", {{"data", InputDtype::any}, {"indices", InputDtype::indices}},
                         infer_gather, {AttrSpec{"axis", AttrKind::integer, false, int64_t{0}}}));
  schemas.push_back(make("expand", {{"x", InputDtype::any}}, infer_expand,
                         {AttrSpec{"shape", AttrKind::ints, true, std::vector<int64_t>{}}}));
  for (const char* name : {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
                           "reduce_log_sum_exp"}) {
    schemas.push_back(make(name, {x}, infer_reduce,
                           {AttrSpec{"axes", AttrKind::ints, true, std::vector<int64_t>{}},
                            AttrSpec{"keepdims", AttrKind::integer, false, int64_t{1}}}));
  }
  schemas.push_back(make("log_softmax", {x}, infer_axis_op,
                         {AttrSpec{"axis", AttrKind::integer, false, int64_t{-1}}}));
  schemas.push_back(make("cumsum", {{"x", InputDtype::any}}, infer_cumsum,
                         {AttrSpec{"axis", AttrKind::integer, true, int64_t{0}},
                          AttrSpec{"exclusive", AttrKind::integer, false, int64_t{0}},
                          AttrSpec{"reverse", AttrKind::integer, false, int64_t{0}}}));
}

}  // namespace rtscope::schema::detail
