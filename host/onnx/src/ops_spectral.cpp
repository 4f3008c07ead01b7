// Mappers of ONNX's spectral ops, DFT and STFT, as products with cosine
// and sine matrices computed at import (the way Resize becomes products
// with interpolation matrices): a signal of N samples transformed at
// length L gives K bins through [N, K] matrices whose row n is
// cos / sin(2π n k / L), zero for n >= L (the truncated samples; a longer
// L pads zeros, which no row needs). Complex values are [..., 2] (real,
// imaginary), as ONNX lays them out.
#include <cmath>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

constexpr int64_t kMaxTableEntries = int64_t{1} << 24;

// Transforms the last axis of `re` (and `im`, empty for a real signal):
// the real and imaginary parts of the K bins.
std::pair<std::string, std::string> transform_last_axis(Context& ctx, const std::string& re,
                                                        const std::string& im, int64_t length,
                                                        int64_t bins, bool inverse) {
  const Shape shape = ctx.static_shape(re);
  const int64_t samples = shape.back();
  const DType dtype = ctx.dtype(re);
  // Two [samples, bins] tables are made here: bounded, so a hostile file
  // cannot ask for gigabytes of them.
  if (samples > kMaxTableEntries / bins) {
    ctx.unsupported("a transform of " + std::to_string(samples) + " samples into " +
                    std::to_string(bins) + " bins needs tables larger than " +
                    std::to_string(kMaxTableEntries) + " entries");
  }
  Tensor cos_table = Tensor::empty(DType::f32, {samples, bins});
  Tensor sin_table = Tensor::empty(DType::f32, {samples, bins});
  // The inverse transform's 1/L goes into its matrices.
  const double scale = inverse ? 1.0 / static_cast<double>(length) : 1.0;
  for (int64_t n = 0; n < samples; ++n) {
    for (int64_t k = 0; k < bins; ++k) {
      const bool kept = n < length;
      // n * k mod L keeps the angle small, so large tables stay exact.
      const double angle = 2.0 * std::numbers::pi * static_cast<double>((n * k) % length) /
                           static_cast<double>(length);
      cos_table.data_as<float>()[n * bins + k] =
          kept ? static_cast<float>(scale * std::cos(angle)) : 0.0f;
      sin_table.data_as<float>()[n * bins + k] =
          kept ? static_cast<float>(scale * std::sin(angle)) : 0.0f;
    }
  }
  auto table = [&](const char* hint, Tensor t) {
    const std::string name = ctx.add_weight(hint, std::move(t));
    return dtype == DType::f16 ? ctx.emit("cast_f16", {name}) : name;
  };
  const std::string c = table("dft_cos", std::move(cos_table));
  const std::string s = table("dft_sin", std::move(sin_table));
  auto product = [&](const std::string& x, const std::string& m) {
    return ctx.emit("matmul", {x, m});
  };
  // Forward: X_k = sum x_n e^(-i θ); inverse: x_n = sum X_k e^(+i θ) / L.
  const std::string re_c = product(re, c);
  const std::string re_s = product(re, s);
  if (im.empty()) {
    return {re_c, inverse ? re_s : ctx.emit("neg", {re_s})};
  }
  const std::string im_c = product(im, c);
  const std::string im_s = product(im, s);
  if (inverse) return {ctx.emit("sub", {re_c, im_s}), ctx.emit("add", {im_c, re_s})};
  return {ctx.emit("add", {re_c, im_s}), ctx.emit("sub", {im_c, re_s})};
}

// The real part of a [..., 1 | 2] signal, and its imaginary part ("" for 1).
std::pair<std::string, std::string> split_complex(Context& ctx, const std::string& signal) {
  Shape shape = ctx.static_shape(signal);
  const int64_t parts = shape.back();
  if (parts != 1 && parts != 2) {
    ctx.fail("the last dim of '" + signal + "' must be 1 (real) or 2 (complex), not " +
             std::to_string(parts));
  }
  const auto last = static_cast<int64_t>(shape.size()) - 1;
  shape.pop_back();
  auto part = [&](int64_t i) {
    return ctx.reshape(ctx.emit("slice", {signal}, {{"axis", last}, {"start", i}, {"end", i + 1}}),
                       shape);
  };
  return {part(0), parts == 2 ? part(1) : std::string()};
}

// [..., K] real and imaginary parts as ONNX's [..., K, 2].
void join_complex(Context& ctx, const std::string& re, const std::string& im,
                  const std::string& out) {
  Shape shape = ctx.static_shape(re);
  shape.push_back(1);
  ctx.emit("concat", {ctx.reshape(re, shape), ctx.reshape(im, shape)},
           {{"axis", static_cast<int64_t>(shape.size()) - 1}}, out);
}

// A scalar integer input known at import (frame_step, dft_length).
int64_t known_int(Context& ctx, std::size_t index, const char* role) {
  const std::vector<int64_t> values = ctx.constant_ints(ctx.input(index), role);
  if (values.size() != 1) ctx.fail(std::string(role) + " must hold one value");
  return values[0];
}

// The transform length and bin count, checked.
std::pair<int64_t, int64_t> length_and_bins(Context& ctx, int64_t length, bool onesided) {
  if (length <= 0 || length > (int64_t{1} << 16)) {
    ctx.fail("transform length " + std::to_string(length) + " is outside [1, 65536]");
  }
  return {length, onesided ? length / 2 + 1 : length};
}

// DFT (opset 17: axis attribute, optional dft_length input).
void map_dft(Context& ctx) {
  ctx.only_attrs({"axis", "inverse", "onesided"});
  const std::string& signal = ctx.input(0);
  require_float(ctx, signal);
  const Shape shape = ctx.static_shape(signal);
  if (shape.size() < 3) ctx.fail("input must have rank 3 or more ([batch, ..., N, 1 | 2])");
  // The signal dims are 1 .. rank - 2; the complex dim cannot be the axis.
  const int64_t axis = axis_in(ctx, ctx.attr_int("axis", 1), shape.size());
  if (axis == 0 || axis == static_cast<int64_t>(shape.size()) - 1) {
    ctx.fail("axis " + std::to_string(ctx.attr_int("axis", 1)) +
             " is the batch or the complex dim; it must name a signal dim");
  }
  const bool inverse = ctx.attr_int("inverse", 0) != 0;
  const bool onesided = ctx.attr_int("onesided", 0) != 0;
  if (inverse && onesided) ctx.unsupported("an inverse one-sided DFT");
  const int64_t samples = shape[static_cast<std::size_t>(axis)];
  const auto [length, bins] =
      length_and_bins(ctx, ctx.has_input(1) ? known_int(ctx, 1, "dft_length") : samples, onesided);
  auto [re, im] = split_complex(ctx, signal);
  if (onesided && !im.empty()) ctx.unsupported("a one-sided DFT of a complex signal");
  // The transformed axis goes last for the products, and back after.
  const auto last = static_cast<int64_t>(shape.size()) - 2;
  std::vector<int64_t> perm(static_cast<std::size_t>(last + 1));
  for (int64_t d = 0; d <= last; ++d) perm[static_cast<std::size_t>(d)] = d;
  std::swap(perm[static_cast<std::size_t>(axis)], perm[static_cast<std::size_t>(last)]);
  const bool moved = axis != last;
  auto to_last = [&](const std::string& v) {
    return moved && !v.empty() ? ctx.emit("transpose", {v}, {{"perm", ints(perm)}}) : v;
  };
  auto [out_re, out_im] = transform_last_axis(ctx, to_last(re), to_last(im), length, bins, inverse);
  join_complex(ctx, to_last(out_re), to_last(out_im), ctx.output(0));
}

// STFT: frames of frame_length samples every frame_step, each times the
// window, transformed; [batch, frames, bins, 2].
void map_stft(Context& ctx) {
  ctx.only_attrs({"onesided"});
  const std::string& signal = ctx.input(0);
  require_float(ctx, signal);
  const Shape shape = ctx.static_shape(signal);
  if (shape.size() != 3) ctx.fail("signal must be [batch, length, 1 | 2]");
  const int64_t samples = shape[1];
  const int64_t step = known_int(ctx, 1, "frame_step");
  const bool has_window = ctx.has_input(2);
  int64_t frame_length = 0;
  if (ctx.has_input(3)) {
    frame_length = known_int(ctx, 3, "frame_length");
  } else if (has_window) {
    frame_length = ctx.static_shape(ctx.input(2)).at(0);
  } else {
    ctx.fail("needs a window or a frame_length");
  }
  if (step <= 0 || frame_length <= 0 || frame_length > samples) {
    ctx.fail("frame_step " + std::to_string(step) + " and frame_length " +
             std::to_string(frame_length) + " do not fit a signal of " + std::to_string(samples) +
             " samples");
  }
  if (has_window && ctx.static_shape(ctx.input(2)) != Shape{frame_length}) {
    ctx.fail("window must be [" + std::to_string(frame_length) + "]");
  }
  const bool onesided = ctx.attr_int("onesided", 1) != 0;
  auto [re, im] = split_complex(ctx, signal);
  if (onesided && !im.empty()) ctx.unsupported("a one-sided STFT of a complex signal");
  const int64_t frames = (samples - frame_length) / step + 1;
  Tensor positions = Tensor::empty(DType::i64, {frames, frame_length});
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t n = 0; n < frame_length; ++n) {
      positions.data_as<int64_t>()[f * frame_length + n] = f * step + n;
    }
  }
  const std::string at = ctx.add_weight("frame_positions", std::move(positions));
  auto framed = [&](const std::string& v) -> std::string {
    if (v.empty()) return v;
    std::string out = ctx.emit("gather", {v, at}, {{"axis", int64_t{1}}});
    if (has_window) out = ctx.emit("mul", {out, ctx.input(2)});
    return out;
  };
  const auto [length, bins] = length_and_bins(ctx, frame_length, onesided);
  auto [out_re, out_im] = transform_last_axis(ctx, framed(re), framed(im), length, bins, false);
  join_complex(ctx, out_re, out_im, ctx.output(0));
}

}  // namespace

void add_spectral_mappers(MapperTable& t) {
  t["DFT"] = {map_dft, 17};
  t["STFT"] = {map_stft, 17};
}

}  // namespace rtscope::onnx_import
