// Resize and Upsample as linear maps: along each resized axis the output is
// W · x with W [out, in] computed here from the mode, the coordinate
// transformation and the nearest mode by ONNX's reference rules (taps of
// the 2 or 4 nearest input positions, edges repeated, exclude_outside
// renormalized). Each axis becomes transpose → matmul → transpose, ops
// every backend has.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

struct ResizeMode {
  std::string mode = "nearest";  // nearest, linear, cubic
  std::string transform = "half_pixel";
  std::string nearest = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
};

std::vector<double> coefficients(const ResizeMode& m, double ratio) {
  if (m.mode == "nearest") {
    if (ratio == 1.0) return {0, 1};
    if (m.nearest == "round_prefer_floor")
      return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
    if (m.nearest == "round_prefer_ceil")
      return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
    if (m.nearest == "floor") return {1, 0};
    return {0, 1};  // ceil
  }
  if (m.mode == "linear") return {1 - ratio, ratio};
  const double a = m.cubic_a;
  const double r = ratio;
  const double s = 1 - ratio;
  return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
          ((a + 2) * r - (a + 3)) * r * r + 1, ((a + 2) * s - (a + 3)) * s * s + 1,
          ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a};
}

// W [out, in] of one axis (row-major).
std::vector<double> axis_map(Context& ctx, const ResizeMode& m, int64_t in, int64_t out,
                             double scale) {
  std::vector<double> w(static_cast<std::size_t>(out * in), 0.0);
  const double out_width = scale * static_cast<double>(in);
  for (int64_t x = 0; x < out; ++x) {
    const auto xd = static_cast<double>(x);
    double orig = 0.0;
    if (m.transform == "half_pixel") {
      orig = (xd + 0.5) / scale - 0.5;
    } else if (m.transform == "pytorch_half_pixel") {
      orig = out_width == 1.0 ? -0.5 : (xd + 0.5) / scale - 0.5;
    } else if (m.transform == "align_corners") {
      orig = out_width == 1.0 ? 0.0 : xd * static_cast<double>(in - 1) / (out_width - 1);
    } else if (m.transform == "asymmetric") {
      orig = xd / scale;
    } else if (m.transform == "tf_half_pixel_for_nn") {
      orig = (xd + 0.5) / scale;
    } else {
      ctx.unsupported("coordinate_transformation_mode '" + m.transform + "'");
    }
    const double floor_orig = std::floor(orig);
    const double ratio = orig == floor_orig ? 1.0 : orig - floor_orig;
    std::vector<double> c = coefficients(m, ratio);
    const auto n = static_cast<int64_t>(c.size());
    // The n nearest positions of the edge-padded axis, smaller first on ties.
    const int64_t pad = (n + 1) / 2;
    const double padded_x = orig + static_cast<double>(pad);
    std::vector<int64_t> candidates;
    for (int64_t i = static_cast<int64_t>(std::floor(padded_x)) - n;
         i <= static_cast<int64_t>(std::floor(padded_x)) + n; ++i) {
      if (i >= 0 && i < in + 2 * pad) candidates.push_back(i);
    }
    std::sort(candidates.begin(), candidates.end(), [&](int64_t a, int64_t b) {
      const double da = std::fabs(padded_x - static_cast<double>(a));
      const double db = std::fabs(padded_x - static_cast<double>(b));
      return da != db ? da < db : a < b;
    });
    if (static_cast<int64_t>(candidates.size()) < n) ctx.fail("resize axis is too short");
    candidates.resize(static_cast<std::size_t>(n));
    std::sort(candidates.begin(), candidates.end());
    if (m.exclude_outside) {
      double sum = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t idx = candidates[k] - pad;
        if (idx < 0 || idx >= in) c[k] = 0.0;
        sum += c[k];
      }
      for (double& v : c) v /= sum;
    }
    for (int64_t k = 0; k < n; ++k) {
      const int64_t idx = std::clamp<int64_t>(candidates[k] - pad, 0, in - 1);
      w[x * in + idx] += c[k];
    }
  }
  return w;
}

void resize(Context& ctx, const ResizeMode& m, const std::vector<double>& scales,
            const std::vector<int64_t>& sizes) {
  require_float(ctx, ctx.input(0));
  const Shape shape = ctx.static_shape(ctx.input(0));
  const std::size_t rank = shape.size();
  if (!scales.empty() && scales.size() != rank) ctx.fail("scales needs one value per dim");
  if (!sizes.empty() && sizes.size() != rank) ctx.fail("sizes needs one value per dim");
  if (scales.empty() && sizes.empty()) ctx.fail("needs scales or sizes");
  const DType dtype = ctx.dtype(ctx.input(0));
  std::string x = ctx.input(0);
  for (std::size_t d = 0; d < rank; ++d) {
    const int64_t in = shape[d];
    const int64_t out = sizes.empty()
                            ? static_cast<int64_t>(std::floor(scales[d] * static_cast<double>(in)))
                            : sizes[d];
    const double scale =
        sizes.empty() ? scales[d] : static_cast<double>(out) / static_cast<double>(in);
    if (out < 1 || in < 1 || !(scale > 0)) ctx.unsupported("an empty resize axis");
    if (out == in && scale == 1.0) continue;
    if (out * in > (int64_t{1} << 24)) ctx.unsupported("a resize axis this large");
    const std::vector<double> w = axis_map(ctx, m, in, out, scale);
    // W transposed [in, out], so x [..., in] · Wᵀ gives [..., out].
    Tensor wt = Tensor::empty(DType::f32, {in, out});
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t o = 0; o < out; ++o)
        wt.data_as<float>()[i * out + o] = static_cast<float>(w[o * in + i]);
    }
    std::string map = ctx.add_weight(ctx.output(0) + "/axis" + std::to_string(d), wt);
    if (dtype == DType::f16) map = ctx.emit("cast_f16", {map});
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[d], perm[rank - 1]);
    const bool last = d + 1 == rank;
    const std::string moved = last ? x : ctx.emit("transpose", {x}, {{"perm", perm}});
    const std::string mapped = ctx.emit("matmul", {moved, map});
    x = last ? mapped : ctx.emit("transpose", {mapped}, {{"perm", perm}});
  }
  ctx.identity(x, ctx.output(0));
}

void map_resize(Context& ctx) {
  ResizeMode m;
  m.mode = ctx.attr_string("mode", "nearest");
  if (m.mode != "nearest" && m.mode != "linear" && m.mode != "cubic")
    ctx.fail("mode '" + m.mode + "'");
  m.transform = ctx.opset() >= 11 ? ctx.attr_string("coordinate_transformation_mode", "half_pixel")
                                  : "asymmetric";
  m.nearest = ctx.attr_string("nearest_mode", "round_prefer_floor");
  m.cubic_a = ctx.attr_float("cubic_coeff_a", -0.75);
  m.exclude_outside = ctx.attr_int("exclude_outside", 0) != 0;
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (ctx.opset() < 11) {
    scales = ctx.constant_doubles(ctx.input(1), "scales");
  } else {
    if (ctx.has_input(2) && ctx.constant(ctx.input(2)) && ctx.constant(ctx.input(2))->numel() > 0) {
      scales = ctx.constant_doubles(ctx.input(2), "scales");
    }
    if (ctx.has_input(3)) sizes = ctx.constant_ints(ctx.input(3), "sizes");
    if (scales.empty() && sizes.empty() && ctx.has_input(2))
      ctx.constant_doubles(ctx.input(2), "scales");
  }
  resize(ctx, m, scales, sizes);
}

void map_upsample(Context& ctx) {
  ResizeMode m;
  m.mode = ctx.attr_string("mode", "nearest");
  if (m.mode != "nearest" && m.mode != "linear") ctx.fail("mode '" + m.mode + "'");
  m.transform = "asymmetric";
  m.nearest = "floor";  // Upsample repeats elements
  std::vector<double> scales;
  if (ctx.opset() < 9) {
    for (double s : ctx.attr_floats("scales")) scales.push_back(s);
  } else {
    scales = ctx.constant_doubles(ctx.input(1), "scales");
  }
  resize(ctx, m, scales, {});
}

}  // namespace

void add_resize_mappers(MapperTable& t) {
  t["Resize"] = {map_resize};
  t["Upsample"] = {map_upsample};
}

}  // namespace rtscope::onnx_import
