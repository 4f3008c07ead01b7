// Mappers of ONNX neural-network ops: MatMul, Gemm, Softmax/LogSoftmax,
// LayerNormalization, BatchNormalization, InstanceNormalization, Conv,
// pooling and the Reduce* family.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

void map_matmul(Context& ctx) {
  std::string a = ctx.input(0);
  std::string b = ctx.input(1);
  require_float(ctx, a);
  require_float(ctx, b);
  Shape sa = ctx.static_shape(a);
  Shape sb = ctx.static_shape(b);
  // 1-D operands get a unit dim that the result drops again (numpy rules).
  const bool a_vector = sa.size() == 1;
  const bool b_vector = sb.size() == 1;
  if (a_vector) a = ctx.reshape(a, {1, sa[0]});
  if (b_vector) b = ctx.reshape(b, {sb[0], 1});
  sa = ctx.static_shape(a);
  sb = ctx.static_shape(b);
  const std::size_t rank = std::max(sa.size(), sb.size());
  if (sb.size() != 2) b = to_rank(ctx, b, rank);
  a = to_rank(ctx, a, rank);
  if (!a_vector && !b_vector) {
    ctx.emit("matmul", {a, b}, {}, ctx.output(0));
    return;
  }
  const std::string product = ctx.emit("matmul", {a, b});
  Shape out = ctx.static_shape(product);
  if (b_vector) out.pop_back();
  if (a_vector) out.erase(out.end() - (b_vector ? 1 : 2));
  ctx.reshape(product, out, ctx.output(0));
}

void map_gemm(Context& ctx) {
  std::string a = ctx.input(0);
  std::string b = ctx.input(1);
  require_float(ctx, a);
  require_float(ctx, b);
  if (ctx.attr_int("transA", 0) != 0)
    a = ctx.emit("transpose", {a}, {{"perm", std::vector<int64_t>{1, 0}}});
  const bool trans_b = ctx.attr_int("transB", 0) != 0;
  const double alpha = ctx.attr_float("alpha", 1.0);
  const double beta = ctx.attr_float("beta", 1.0);
  const bool has_c = ctx.has_input(2) && beta != 0.0;
  std::string y = ctx.emit("matmul", {a, b}, {{"transpose_b", int64_t{trans_b ? 1 : 0}}},
                           alpha == 1.0 && !has_c ? ctx.output(0) : "");
  if (alpha != 1.0) y = ctx.emit("scale", {y}, {{"factor", alpha}}, has_c ? "" : ctx.output(0));
  if (has_c) {
    std::string c = ctx.input(2);
    if (beta != 1.0) c = ctx.emit("scale", {c}, {{"factor", beta}});
    ctx.emit("add", {y, c}, {}, ctx.output(0));
  }
}

// Softmax-like ops: opset < 13 flattens to 2-D at `axis` (default 1);
// later opsets normalize along `axis` (default -1).
void softmax_like(Context& ctx, const char* op) {
  require_float(ctx, ctx.input(0));
  const Shape shape = ctx.static_shape(ctx.input(0));
  const std::size_t rank = shape.size();
  if (ctx.opset() >= 13) {
    const int64_t axis = axis_in(ctx, ctx.attr_int("axis", -1), rank);
    ctx.emit(op, {ctx.input(0)}, {{"axis", axis}}, ctx.output(0));
    return;
  }
  const int64_t axis = rank == 0 ? 0 : axis_in(ctx, ctx.attr_int("axis", 1), rank);
  const int64_t outer =
      std::accumulate(shape.begin(), shape.begin() + axis, int64_t{1}, std::multiplies<>());
  const int64_t inner =
      std::accumulate(shape.begin() + axis, shape.end(), int64_t{1}, std::multiplies<>());
  const std::string flat = ctx.reshape(ctx.input(0), {outer, inner});
  const std::string y = ctx.emit(op, {flat}, {{"axis", int64_t{-1}}});
  ctx.reshape(y, shape, ctx.output(0));
}
void map_softmax(Context& ctx) { softmax_like(ctx, "softmax"); }
void map_log_softmax(Context& ctx) { softmax_like(ctx, "log_softmax"); }

void map_layer_norm(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const Shape shape = ctx.static_shape(ctx.input(0));
  const int64_t axis = axis_in(ctx, ctx.attr_int("axis", -1), shape.size());
  const double eps = ctx.attr_float("epsilon", 1e-5);
  const DType dtype = ctx.dtype(ctx.input(0));
  const int64_t inner =
      std::accumulate(shape.begin() + axis, shape.end(), int64_t{1}, std::multiplies<>());
  const int64_t outer = element_count(shape) / std::max<int64_t>(inner, 1);
  const bool wants_stats = (ctx.node().output_size() > 1 && !ctx.node().output(1).empty()) ||
                           (ctx.node().output_size() > 2 && !ctx.node().output(2).empty());
  // Normalized over dims [axis, rank): as one last dim of their product.
  const std::string x = ctx.reshape(ctx.input(0), {outer, inner});
  const std::string gamma =
      ctx.emit("expand", {ctx.input(1)},
               {{"shape", std::vector<int64_t>(shape.begin() + axis, shape.end())}});
  const std::string gamma_flat = ctx.reshape(gamma, {inner});
  const std::string beta_flat =
      ctx.has_input(2)
          ? ctx.reshape(
                ctx.emit("expand", {ctx.input(2)},
                         {{"shape", std::vector<int64_t>(shape.begin() + axis, shape.end())}}),
                {inner})
          : ctx.add_scalar(ctx.output(0) + "/beta", 0.0, dtype, {inner});
  if (!wants_stats) {
    const std::string y = ctx.emit("layernorm", {x, gamma_flat, beta_flat}, {{"eps", eps}});
    ctx.reshape(y, shape, ctx.output(0));
    return;
  }
  // Mean and inverse standard deviation are outputs too: spelled out.
  const AttrMap last{{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{1}}};
  const std::string mean = ctx.emit("reduce_mean", {x}, last);
  const std::string centered = ctx.emit("sub", {x, mean});
  const std::string var = ctx.emit("reduce_mean", {ctx.emit("mul", {centered, centered})}, last);
  const std::string eps_value = ctx.add_scalar(ctx.output(0) + "/eps", eps, dtype);
  const std::string inv =
      ctx.emit("reciprocal", {ctx.emit("sqrt", {ctx.emit("add", {var, eps_value})})});
  const std::string normalized = ctx.emit("mul", {centered, inv});
  const std::string y = ctx.emit("add", {ctx.emit("mul", {normalized, gamma_flat}), beta_flat});
  ctx.reshape(y, shape, ctx.output(0));
  Shape stats_shape = shape;
  for (std::size_t d = static_cast<std::size_t>(axis); d < shape.size(); ++d) stats_shape[d] = 1;
  if (ctx.node().output_size() > 1 && !ctx.node().output(1).empty())
    ctx.reshape(mean, stats_shape, ctx.output(1));
  if (ctx.node().output_size() > 2 && !ctx.node().output(2).empty())
    ctx.reshape(inv, stats_shape, ctx.output(2));
}

// Per-channel vector reshaped to broadcast along axis 1 of a rank-`rank` tensor.
std::string channel_vector(Context& ctx, const std::string& v, std::size_t rank) {
  const Shape s = ctx.static_shape(v);
  std::vector<int64_t> shape{element_count(s)};
  shape.resize(rank - 1, 1);
  return ctx.reshape(v, shape);
}

void map_batch_norm(Context& ctx) {
  for (int o = 1; o < ctx.node().output_size(); ++o) {
    if (!ctx.node().output(o).empty()) ctx.unsupported("BatchNormalization in training mode");
  }
  require_float(ctx, ctx.input(0));
  const std::size_t rank = ctx.type(ctx.input(0)).shape.size();
  if (rank < 2) ctx.fail("input must have rank >= 2");
  const double eps = ctx.attr_float("epsilon", 1e-5);
  const DType dtype = ctx.dtype(ctx.input(0));
  if (ctx.constant(ctx.input(1)) && ctx.constant(ctx.input(2)) && ctx.constant(ctx.input(3)) &&
      ctx.constant(ctx.input(4))) {
    // Constant statistics: one multiply and one add per element.
    const auto scale = ctx.constant_doubles(ctx.input(1), "scale");
    const auto bias = ctx.constant_doubles(ctx.input(2), "B");
    const auto mean = ctx.constant_doubles(ctx.input(3), "mean");
    const auto var = ctx.constant_doubles(ctx.input(4), "var");
    const auto c = static_cast<int64_t>(scale.size());
    if (bias.size() != scale.size() || mean.size() != scale.size() || var.size() != scale.size()) {
      ctx.fail("scale, B, mean and var differ in size");
    }
    Tensor factor = Tensor::empty(DType::f32, {c});
    Tensor shift = Tensor::empty(DType::f32, {c});
    for (int64_t i = 0; i < c; ++i) {
      const double f = scale[i] / std::sqrt(var[i] + eps);
      factor.data_as<float>()[i] = static_cast<float>(f);
      shift.data_as<float>()[i] = static_cast<float>(bias[i] - mean[i] * f);
    }
    std::string f = ctx.add_weight(ctx.output(0) + "/factor", factor);
    std::string s = ctx.add_weight(ctx.output(0) + "/shift", shift);
    if (dtype == DType::f16) {
      f = ctx.emit("cast_f16", {f});
      s = ctx.emit("cast_f16", {s});
    }
    const std::string y = ctx.emit("mul", {ctx.input(0), channel_vector(ctx, f, rank)});
    ctx.emit("add", {y, channel_vector(ctx, s, rank)}, {}, ctx.output(0));
    return;
  }
  // Statistics as inputs: (x - mean) / sqrt(var + eps) * scale + B.
  const std::string eps_value = ctx.add_scalar(ctx.output(0) + "/eps", eps, dtype);
  const std::string centered =
      ctx.emit("sub", {ctx.input(0), channel_vector(ctx, ctx.input(3), rank)});
  const std::string denom =
      ctx.emit("sqrt", {ctx.emit("add", {channel_vector(ctx, ctx.input(4), rank), eps_value})});
  const std::string normalized = ctx.emit("div", {centered, denom});
  const std::string scaled = ctx.emit("mul", {normalized, channel_vector(ctx, ctx.input(1), rank)});
  ctx.emit("add", {scaled, channel_vector(ctx, ctx.input(2), rank)}, {}, ctx.output(0));
}

void map_instance_norm(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const Shape shape = ctx.static_shape(ctx.input(0));
  if (shape.size() < 3) ctx.fail("input must have rank >= 3");
  const double eps = ctx.attr_float("epsilon", 1e-5);
  const int64_t spatial =
      std::accumulate(shape.begin() + 2, shape.end(), int64_t{1}, std::multiplies<>());
  // Each (n, c) row normalized with layernorm (gain 1, shift 0), then the
  // per-channel scale and bias.
  const DType dtype = ctx.dtype(ctx.input(0));
  const std::string x = ctx.reshape(ctx.input(0), {shape[0] * shape[1], spatial});
  const std::string ones = ctx.add_scalar(ctx.output(0) + "/ones", 1.0, dtype, {spatial});
  const std::string zeros = ctx.add_scalar(ctx.output(0) + "/zeros", 0.0, dtype, {spatial});
  const std::string normalized =
      ctx.reshape(ctx.emit("layernorm", {x, ones, zeros}, {{"eps", eps}}), shape);
  const std::string scaled =
      ctx.emit("mul", {normalized, channel_vector(ctx, ctx.input(1), shape.size())});
  ctx.emit("add", {scaled, channel_vector(ctx, ctx.input(2), shape.size())}, {}, ctx.output(0));
}

// Explicit pads from auto_pad (SAME_UPPER, SAME_LOWER, VALID) or `pads`.
std::vector<int64_t> window_pads(Context& ctx, const Shape& in, const std::vector<int64_t>& kernel,
                                 const std::vector<int64_t>& strides,
                                 const std::vector<int64_t>& dilations) {
  const std::size_t n = kernel.size();
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  if (pads.size() != 2 * n)
    ctx.fail("pads has " + std::to_string(pads.size()) + " values for " + std::to_string(n) +
             " spatial dims");
  if (auto_pad == "VALID") return std::vector<int64_t>(2 * n, 0);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (std::size_t i = 0; i < n; ++i) {
      const int64_t size = in[2 + i];
      const int64_t out = (size + strides[i] - 1) / strides[i];
      const int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + extent - size);
      const int64_t small = total / 2;
      pads[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      pads[i + n] = total - pads[i];
    }
    return pads;
  }
  if (auto_pad != "NOTSET")
    ctx.fail("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  return pads;
}

void map_conv(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const Shape x = ctx.static_shape(ctx.input(0));
  const Shape w = ctx.static_shape(ctx.input(1));
  if (x.size() < 3 || w.size() != x.size()) ctx.fail("x and w must have the same rank >= 3");
  const std::size_t n = x.size() - 2;
  std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape", Shape(w.begin() + 2, w.end()));
  const std::vector<int64_t> strides = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> dilations = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  if (strides.size() != n || dilations.size() != n)
    ctx.fail("strides and dilations need one value per spatial dim");
  const std::vector<int64_t> pads = window_pads(ctx, x, kernel, strides, dilations);
  std::vector<std::string> inputs{ctx.input(0), ctx.input(1)};
  if (ctx.has_input(2)) inputs.push_back(ctx.input(2));
  ctx.emit("conv", inputs,
           {{"strides", strides},
            {"pads", pads},
            {"dilations", dilations},
            {"group", ctx.attr_int("group", 1)}},
           ctx.output(0));
}

void map_conv_transpose(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const Shape x = ctx.static_shape(ctx.input(0));
  const Shape w = ctx.static_shape(ctx.input(1));
  if (x.size() < 3 || w.size() != x.size()) ctx.fail("x and w must have the same rank >= 3");
  const std::size_t n = x.size() - 2;
  const std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape", Shape(w.begin() + 2, w.end()));
  const std::vector<int64_t> strides = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> dilations = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> extra = ctx.attr_ints("output_padding", std::vector<int64_t>(n, 0));
  if (strides.size() != n || dilations.size() != n || extra.size() != n || kernel.size() != n) {
    ctx.fail("strides, dilations, output_padding and kernel_shape need one value per spatial dim");
  }
  std::vector<int64_t> pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> output_shape = ctx.attr_ints("output_shape");
  if (output_shape.size() == n + 2)
    output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (output_shape.empty() && (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")) {
    for (std::size_t i = 0; i < n; ++i) output_shape.push_back(x[2 + i] * strides[i]);
  }
  if (auto_pad == "VALID") pads.assign(2 * n, 0);
  if (!output_shape.empty()) {
    if (output_shape.size() != n) ctx.fail("output_shape needs one value per spatial dim");
    // Padding that gives the asked-for output size (ONNX's rule).
    for (std::size_t i = 0; i < n; ++i) {
      const int64_t total = strides[i] * (x[2 + i] - 1) + extra[i] +
                            ((kernel[i] - 1) * dilations[i] + 1) - output_shape[i];
      // A negative total (output_shape past the full result) pads the end:
      // those outputs get only the bias.
      const bool upper = auto_pad != "SAME_LOWER";
      pads[i] = upper ? total / 2 : total - total / 2;
      pads[i + n] = total - pads[i];
    }
  }
  std::vector<std::string> inputs{ctx.input(0), ctx.input(1)};
  if (ctx.has_input(2)) inputs.push_back(ctx.input(2));
  ctx.emit("conv_transpose", inputs,
           {{"strides", strides},
            {"pads", pads},
            {"dilations", dilations},
            {"output_padding", extra},
            {"group", ctx.attr_int("group", 1)}},
           ctx.output(0));
}

AttrMap loss_attrs(Context& ctx) {
  AttrMap attrs{{"reduction", ctx.attr_string("reduction", "mean")}};
  if (ctx.has_attr("ignore_index")) attrs["ignore_index"] = ctx.attr_int("ignore_index", 0);
  return attrs;
}

void map_nll_loss(Context& ctx) {
  require_float(ctx, ctx.input(0));
  std::vector<std::string> inputs{ctx.input(0), ctx.input(1)};
  if (ctx.has_input(2)) inputs.push_back(ctx.input(2));
  ctx.emit("nll_loss", inputs, loss_attrs(ctx), ctx.output(0));
}

void map_softmax_cross_entropy(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const bool wants_log_prob = ctx.node().output_size() > 1 && !ctx.node().output(1).empty();
  const std::string log_prob = ctx.emit("log_softmax", {ctx.input(0)}, {{"axis", int64_t{1}}},
                                        wants_log_prob ? ctx.output(1) : "");
  std::vector<std::string> inputs{log_prob, ctx.input(1)};
  if (ctx.has_input(2)) inputs.push_back(ctx.input(2));
  ctx.emit("nll_loss", inputs, loss_attrs(ctx), ctx.output(0));
}

// Hardmax: 1 at the first maximum along the axis (opset < 13: of the rows
// of the 2-D coercion), 0 elsewhere: argmax compared with the positions.
void map_hardmax(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const Shape shape = ctx.static_shape(ctx.input(0));
  std::string x = ctx.input(0);
  int64_t axis = 0;
  Shape work = shape;
  if (ctx.opset() >= 13) {
    axis = axis_in(ctx, ctx.attr_int("axis", -1), shape.size());
  } else {
    const int64_t a = shape.empty() ? 0 : axis_in(ctx, ctx.attr_int("axis", 1), shape.size());
    const int64_t outer =
        std::accumulate(shape.begin(), shape.begin() + a, int64_t{1}, std::multiplies<>());
    work = {outer, element_count(shape) / std::max<int64_t>(outer, 1)};
    x = ctx.reshape(x, work);
    axis = 1;
  }
  Shape kept = work;
  kept[axis] = 1;
  const std::string index = ctx.reshape(ctx.emit("argmax", {x}, {{"axis", axis}}), kept);
  Shape positions_shape(work.size(), 1);
  positions_shape[axis] = work[axis];
  Tensor positions = Tensor::empty(DType::i64, positions_shape);
  for (int64_t i = 0; i < work[axis]; ++i) positions.data_as<int64_t>()[i] = i;
  const std::string hit =
      ctx.emit("equal", {ctx.add_weight(ctx.output(0) + "/positions", positions), index});
  const char* cast = ctx.dtype(ctx.input(0)) == DType::f16 ? "cast_f16" : "cast_f32";
  const std::string y = ctx.emit(cast, {hit}, {}, ctx.opset() >= 13 ? ctx.output(0) : "");
  if (ctx.opset() < 13) ctx.reshape(y, shape, ctx.output(0));
}

// MeanVarianceNormalization: (x - mean) / sqrt(var) over `axes`.
void map_mean_variance_normalization(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const std::vector<int64_t> axes = ctx.attr_ints("axes", {0, 2, 3});
  const AttrMap over{{"axes", axes}, {"keepdims", int64_t{1}}};
  const std::string mean = ctx.emit("reduce_mean", {ctx.input(0)}, over);
  const std::string centered = ctx.emit("sub", {ctx.input(0), mean});
  const std::string var = ctx.emit("reduce_mean", {ctx.emit("mul", {centered, centered})}, over);
  // ONNX's reference adds 1e-9 under the root.
  const std::string eps = ctx.add_scalar(ctx.output(0) + "/eps", 1e-9, ctx.dtype(ctx.input(0)));
  ctx.emit("div", {centered, ctx.emit("sqrt", {ctx.emit("add", {var, eps})})}, {}, ctx.output(0));
}

// LRN: x / (bias + alpha / size · Σ x² over `size` neighbouring channels)^beta;
// the channel window sum is an avg_pool over a [N, 1, C, rest] view.
void map_lrn(Context& ctx) {
  require_float(ctx, ctx.input(0));
  const Shape shape = ctx.static_shape(ctx.input(0));
  if (shape.size() < 3) ctx.fail("input must have rank >= 3");
  const int64_t size = ctx.attr_int("size", 0);
  if (size < 1) ctx.fail("size must be >= 1");
  const double alpha = ctx.attr_float("alpha", 1e-4);
  const double beta = ctx.attr_float("beta", 0.75);
  const double bias = ctx.attr_float("bias", 1.0);
  const int64_t rest = element_count(shape) / (shape[0] * shape[1]);
  const DType dtype = ctx.dtype(ctx.input(0));
  const std::string x = ctx.input(0);
  const std::string squares = ctx.reshape(ctx.emit("mul", {x, x}), {shape[0], 1, shape[1], rest});
  const int64_t before = (size - 1) / 2;
  const int64_t after = size - 1 - before;
  const std::string mean = ctx.emit("avg_pool", {squares},
                                    {{"kernel", std::vector<int64_t>{size, 1}},
                                     {"pads", std::vector<int64_t>{before, 0, after, 0}},
                                     {"count_include_pad", int64_t{1}}});
  // avg · size = Σ; alpha / size · Σ = alpha · avg.
  const std::string scaled = ctx.emit("scale", {ctx.reshape(mean, shape)}, {{"factor", alpha}});
  const std::string base =
      ctx.emit("add", {scaled, ctx.add_scalar(ctx.output(0) + "/bias", bias, dtype)});
  const std::string denom =
      ctx.emit("pow", {base, ctx.add_scalar(ctx.output(0) + "/beta", beta, dtype)});
  ctx.emit("div", {x, denom}, {}, ctx.output(0));
}

void pool(Context& ctx, const char* op) {
  require_float(ctx, ctx.input(0));
  if (ctx.node().output_size() > 1 && !ctx.node().output(1).empty())
    ctx.unsupported("MaxPool's Indices output");
  const Shape x = ctx.static_shape(ctx.input(0));
  if (x.size() < 3) ctx.fail("input must have rank >= 3");
  const std::size_t n = x.size() - 2;
  const std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape");
  if (kernel.size() != n) ctx.fail("kernel_shape needs one value per spatial dim");
  const std::vector<int64_t> strides = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> dilations = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  if (strides.size() != n || dilations.size() != n)
    ctx.fail("strides and dilations need one value per spatial dim");
  const std::vector<int64_t> pads = window_pads(ctx, x, kernel, strides, dilations);
  AttrMap attrs{{"kernel", kernel},
                {"strides", strides},
                {"pads", pads},
                {"dilations", dilations},
                {"ceil_mode", ctx.attr_int("ceil_mode", 0)}};
  if (std::string(op) == "avg_pool") {
    attrs["count_include_pad"] = ctx.attr_int("count_include_pad", 0);
  }
  ctx.emit(op, {ctx.input(0)}, attrs, ctx.output(0));
}
void map_max_pool(Context& ctx) { pool(ctx, "max_pool"); }
void map_avg_pool(Context& ctx) { pool(ctx, "avg_pool"); }

void global_pool(Context& ctx, const char* op) {
  require_float(ctx, ctx.input(0));
  const std::size_t rank = ctx.type(ctx.input(0)).shape.size();
  std::vector<int64_t> axes;
  for (std::size_t a = 2; a < rank; ++a) axes.push_back(static_cast<int64_t>(a));
  ctx.emit(op, {ctx.input(0)}, {{"axes", axes}, {"keepdims", int64_t{1}}}, ctx.output(0));
}
void map_global_avg_pool(Context& ctx) { global_pool(ctx, "reduce_mean"); }
void map_global_max_pool(Context& ctx) { global_pool(ctx, "reduce_max"); }

// Reduce*: axes from the attribute (or from input 1 for ReduceSum at
// opset >= 13); empty axes reduce everything unless noop_with_empty_axes.
void reduce(Context& ctx, const char* op, const char* before, const char* after) {
  require_float(ctx, ctx.input(0));
  const std::size_t rank = ctx.type(ctx.input(0)).shape.size();
  const bool axes_input = std::string(ctx.node().op_type()) == "ReduceSum" && ctx.opset() >= 13;
  std::vector<int64_t> axes =
      axes_input
          ? (ctx.has_input(1) ? ctx.constant_ints(ctx.input(1), "axes") : std::vector<int64_t>{})
          : ctx.attr_ints("axes");
  if (axes.empty()) {
    if (ctx.attr_int("noop_with_empty_axes", 0) != 0) {
      ctx.identity(ctx.input(0), ctx.output(0));
      return;
    }
    for (std::size_t a = 0; a < rank; ++a) axes.push_back(static_cast<int64_t>(a));
  }
  for (int64_t& a : axes) a = axis_in(ctx, a, rank);
  std::string x = ctx.input(0);
  if (std::string(before) == "square") {
    x = ctx.emit("mul", {x, x});
  } else if (before[0] != '\0') {
    x = ctx.emit(before, {x});
  }
  const AttrMap attrs{{"axes", axes}, {"keepdims", ctx.attr_int("keepdims", 1)}};
  if (after[0] == '\0') {
    ctx.emit(op, {x}, attrs, ctx.output(0));
    return;
  }
  ctx.emit(after, {ctx.emit(op, {x}, attrs)}, {}, ctx.output(0));
}
void map_reduce_sum(Context& ctx) { reduce(ctx, "reduce_sum", "", ""); }
void map_reduce_mean(Context& ctx) { reduce(ctx, "reduce_mean", "", ""); }
void map_reduce_max(Context& ctx) { reduce(ctx, "reduce_max", "", ""); }
void map_reduce_min(Context& ctx) { reduce(ctx, "reduce_min", "", ""); }
void map_reduce_prod(Context& ctx) { reduce(ctx, "reduce_prod", "", ""); }
void map_reduce_l1(Context& ctx) { reduce(ctx, "reduce_sum", "abs", ""); }
void map_reduce_l2(Context& ctx) { reduce(ctx, "reduce_sum", "square", "sqrt"); }
void map_reduce_sum_square(Context& ctx) { reduce(ctx, "reduce_sum", "square", ""); }
void map_reduce_log_sum(Context& ctx) { reduce(ctx, "reduce_sum", "", "log"); }
void map_reduce_log_sum_exp(Context& ctx) { reduce(ctx, "reduce_log_sum_exp", "", ""); }

// GridSample 16 (4-D): rtscope's grid_sample, same modes and padding.
void map_grid_sample(Context& ctx) {
  ctx.only_attrs({"mode", "padding_mode", "align_corners"});
  require_float(ctx, ctx.input(0));
  ctx.emit("grid_sample", {ctx.input(0), ctx.input(1)},
           {{"mode", ctx.attr_string("mode", "bilinear")},
            {"padding_mode", ctx.attr_string("padding_mode", "zeros")},
            {"align_corners", ctx.attr_int("align_corners", 0)}},
           ctx.output(0));
}

// RoiAlign 10 and 16: rtscope's roi_align. Opset 10's regions are what 16
// calls output_half_pixel; 16's default is half_pixel.
void map_roi_align(Context& ctx) {
  ctx.only_attrs({"mode", "output_height", "output_width", "sampling_ratio", "spatial_scale",
                  "coordinate_transformation_mode"});
  require_float(ctx, ctx.input(0));
  const std::string transform =
      ctx.opset() < 16 ? "output_half_pixel"
                       : ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  ctx.emit("roi_align", {ctx.input(0), ctx.input(1), ctx.input(2)},
           {{"mode", ctx.attr_string("mode", "avg")},
            {"output_height", ctx.attr_int("output_height", 1)},
            {"output_width", ctx.attr_int("output_width", 1)},
            {"sampling_ratio", ctx.attr_int("sampling_ratio", 0)},
            {"spatial_scale", ctx.attr_float("spatial_scale", 1.0)},
            {"coordinate_transformation_mode", transform}},
           ctx.output(0));
}

// CumSum: rtscope's cumsum, its axis input known at import.
void map_cumsum(Context& ctx) {
  ctx.only_attrs({"exclusive", "reverse"});
  const std::vector<int64_t> axis = ctx.constant_ints(ctx.input(1), "axis");
  if (axis.size() != 1) ctx.fail("axis must hold one value");
  ctx.emit("cumsum", {ctx.input(0)},
           {{"axis", axis_in(ctx, axis[0], ctx.type(ctx.input(0)).shape.size())},
            {"exclusive", ctx.attr_int("exclusive", 0)},
            {"reverse", ctx.attr_int("reverse", 0)}},
           ctx.output(0));
}

}  // namespace

void add_nn_mappers(MapperTable& t) {
  t["Det"] = {[](Context& ctx) {
                require_float(ctx, ctx.input(0));
                ctx.emit("det", {ctx.input(0)}, {}, ctx.output(0));
              },
              11};
  t["CumSum"] = {map_cumsum, 11};
  t["RoiAlign"] = {map_roi_align, 10};
  t["GridSample"] = {map_grid_sample, 16};
  t["MatMul"] = {map_matmul};
  t["Gemm"] = {map_gemm};
  t["Softmax"] = {map_softmax};
  t["LogSoftmax"] = {map_log_softmax};
  t["LayerNormalization"] = {map_layer_norm};
  t["BatchNormalization"] = {map_batch_norm};
  t["InstanceNormalization"] = {map_instance_norm};
  t["Conv"] = {map_conv};
  t["ConvTranspose"] = {map_conv_transpose};
  t["NegativeLogLikelihoodLoss"] = {map_nll_loss};
  t["SoftmaxCrossEntropyLoss"] = {map_softmax_cross_entropy};
  t["Hardmax"] = {map_hardmax};
  t["MeanVarianceNormalization"] = {map_mean_variance_normalization};
  t["LRN"] = {map_lrn};
  t["MaxPool"] = {map_max_pool};
  t["AveragePool"] = {map_avg_pool};
  t["GlobalAveragePool"] = {map_global_avg_pool};
  t["GlobalMaxPool"] = {map_global_max_pool};
  t["ReduceSum"] = {map_reduce_sum};
  t["ReduceMean"] = {map_reduce_mean};
  t["ReduceMax"] = {map_reduce_max};
  t["ReduceMin"] = {map_reduce_min};
  t["ReduceProd"] = {map_reduce_prod};
  t["ReduceL1"] = {map_reduce_l1};
  t["ReduceL2"] = {map_reduce_l2};
  t["ReduceSumSquare"] = {map_reduce_sum_square};
  t["ReduceLogSum"] = {map_reduce_log_sum};
  t["ReduceLogSumExp"] = {map_reduce_log_sum_exp};
}

}  // namespace rtscope::onnx_import
