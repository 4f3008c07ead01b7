// Schemas of the sliding-window ops of CNNs: conv (1-d to 3-d, groups,
// dilations, explicit pads), max_pool and avg_pool, pad, grid_sample (x
// sampled at the points of a grid) and roi_align (regions of x pooled to a
// fixed size).
#include <limits>

#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

std::vector<int64_t> per_dim(const AttrMap& attrs, const char* name, std::size_t n,
                             int64_t fallback, std::size_t count_factor = 1) {
  std::vector<int64_t> values = attr_ints(attrs, name);
  if (values.empty()) values.assign(n * count_factor, fallback);
  if (values.size() != n * count_factor) {
    fail(std::string(name) + " has " + std::to_string(values.size()) + " values, expected " +
         std::to_string(n * count_factor) + " for " + std::to_string(n) + " spatial dims");
  }
  return values;
}

// Output size of one spatial dim of a window op.
int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                   int64_t pad_end, bool ceil_mode) {
  if (kernel < 1 || stride < 1 || dilation < 1) fail("kernel, strides and dilations must be >= 1");
  if (pad_begin < 0 || pad_end < 0) fail("pads must be >= 0");
  // Sizes come from model files: computed in 128 bits, checked to fit.
  const __int128 wide_extent = (__int128{kernel} - 1) * dilation + 1;
  const __int128 wide_span = __int128{in} + pad_begin + pad_end - wide_extent;
  constexpr __int128 kLimit = std::numeric_limits<int64_t>::max() / 2;
  if (wide_extent > kLimit || wide_span > kLimit) fail("window sizes are too large");
  const auto extent = static_cast<int64_t>(wide_extent);
  const auto span = static_cast<int64_t>(wide_span);
  if (span < 0) {
    fail("the window (extent " + std::to_string(extent) + ") is larger than the padded input (" +
         std::to_string(in + pad_begin + pad_end) + ")");
  }
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // A last window starting in the end padding is dropped (ceil_mode).
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

Dim static_dim(const ValueType& x, std::size_t d) {
  if (!x.shape[d].is_static()) {
    fail(describe("x", x) + " needs static channel and spatial dims");
  }
  return x.shape[d];
}

// What conv and conv_transpose read and check alike: x of rank >= 3, w of
// its rank with a static shape, group >= 1, and the per-dim attributes.
struct ConvOperands {
  std::size_t n;  // spatial dims
  int64_t group;
  std::vector<int64_t> strides, dilations, pads;
};

ConvOperands conv_operands(const ValueType& x, const ValueType& w, const AttrMap& attrs) {
  require_min_rank("x", x, 3);
  require_rank("w", w, x.shape.size());
  const std::size_t n = x.shape.size() - 2;
  const int64_t group = attr_int(attrs, "group");
  if (group < 1) fail("group must be >= 1");
  for (std::size_t d = 0; d < w.shape.size(); ++d) {
    if (!w.shape[d].is_static()) fail(describe("w", w) + " must have a static shape");
  }
  return {n, group, per_dim(attrs, "strides", n, 1), per_dim(attrs, "dilations", n, 1),
          per_dim(attrs, "pads", n, 0, 2)};
}

std::vector<ValueType> infer_conv(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const ValueType& w = in[1];
  const auto [n, group, strides, dilations, pads] = conv_operands(x, w, attrs);
  const int64_t channels = static_dim(x, 1).value;
  const int64_t m = w.shape[0].value;
  if (channels != w.shape[1].value * group || m % group != 0) {
    fail(describe("x", x) + " and " + describe("w", w) + " do not match for group " +
         std::to_string(group) + " (x channels = w dim 1 × group, w dim 0 divisible by group)");
  }
  if (in.size() > 2) {
    require_rank("b", in[2], 1);
    require_same_dim(in[2].shape[0], w.shape[0], "b's size and w's output channels");
  }
  ValueType out{x.dtype, {x.shape[0], Dim::fixed(m)}};
  for (std::size_t i = 0; i < n; ++i) {
    out.shape.push_back(
        Dim::fixed(window_out(static_dim(x, 2 + i).value, w.shape[2 + i].value, strides[i],
                              dilations[i], pads[i], pads[i + n], false)));
  }
  return {out};
}

std::vector<ValueType> infer_conv_transpose(const std::vector<ValueType>& in,
                                            const AttrMap& attrs) {
  const ValueType& x = in[0];
  const ValueType& w = in[1];
  const auto [n, group, strides, dilations, pads] = conv_operands(x, w, attrs);
  if (static_dim(x, 1).value != w.shape[0].value || w.shape[0].value % group != 0) {
    fail(describe("x", x) + " and " + describe("w", w) +
         " do not match (x channels = w dim 0, divisible by group " + std::to_string(group) + ")");
  }
  const int64_t m = w.shape[1].value * group;
  if (in.size() > 2) {
    require_rank("b", in[2], 1);
    require_same_dim(in[2].shape[0], Dim::fixed(m), "b's size and the output channels");
  }
  const auto extra = per_dim(attrs, "output_padding", n, 0);
  ValueType out{x.dtype, {x.shape[0], Dim::fixed(m)}};
  for (std::size_t i = 0; i < n; ++i) {
    if (strides[i] < 1 || dilations[i] < 1) fail("strides and dilations must be >= 1");
    const __int128 size = __int128{strides[i]} * (static_dim(x, 2 + i).value - 1) + extra[i] +
                          (__int128{w.shape[2 + i].value} - 1) * dilations[i] + 1 - pads[i] -
                          pads[i + n];
    if (size < 1) fail("the output of spatial dim " + std::to_string(i) + " would be empty");
    if (size > std::numeric_limits<int64_t>::max() / 2) fail("the output size is too large");
    out.shape.push_back(Dim::fixed(static_cast<int64_t>(size)));
  }
  return {out};
}

std::vector<ValueType> infer_pool(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  require_min_rank("x", x, 3);
  const std::size_t n = x.shape.size() - 2;
  const auto kernel = attr_ints(attrs, "kernel");
  if (kernel.size() != n) fail("kernel needs " + std::to_string(n) + " values");
  const auto strides = per_dim(attrs, "strides", n, 1);
  const auto dilations = per_dim(attrs, "dilations", n, 1);
  const auto pads = per_dim(attrs, "pads", n, 0, 2);
  const bool ceil_mode = attr_int(attrs, "ceil_mode") != 0;
  ValueType out{x.dtype, {x.shape[0], x.shape[1]}};
  for (std::size_t i = 0; i < n; ++i) {
    const __int128 extent = (__int128{kernel[i]} - 1) * dilations[i] + 1;
    if (pads[i] >= extent || pads[i + n] >= extent) fail("pads must be smaller than the window");
    out.shape.push_back(Dim::fixed(window_out(static_dim(x, 2 + i).value, kernel[i], strides[i],
                                              dilations[i], pads[i], pads[i + n], ceil_mode)));
  }
  return {out};
}

std::vector<ValueType> infer_pad(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const std::size_t rank = x.shape.size();
  const auto& pads = attr_ints(attrs, "pads");
  if (pads.size() != 2 * rank) {
    fail("pads has " + std::to_string(pads.size()) + " values, expected " +
         std::to_string(2 * rank));
  }
  const std::string& mode = attr_string(attrs, "mode");
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    fail("mode '" + mode + "' is not one of constant, reflect, edge");
  }
  ValueType out{x.dtype, {}};
  for (std::size_t d = 0; d < rank; ++d) {
    if (pads[d] == 0 && pads[d + rank] == 0) {
      out.shape.push_back(x.shape[d]);
      continue;
    }
    const Dim dim = static_dim(x, d);
    const int64_t size = dim.value + pads[d] + pads[d + rank];
    if (size < 0) fail("pads remove more than dim " + std::to_string(d) + " holds");
    if (mode != "constant" && (pads[d] < 0 || pads[d + rank] < 0))
      fail("negative pads need mode constant");
    if (mode == "reflect" && (pads[d] >= dim.value || pads[d + rank] >= dim.value)) {
      fail("reflect pads must be smaller than the dim");
    }
    if (mode == "edge" && dim.value == 0) fail("edge padding of an empty dim");
    out.shape.push_back(Dim::fixed(size));
  }
  return {out};
}

AttrSpec ints(const char* name, bool required = false) {
  return AttrSpec{name, AttrKind::ints, required, std::vector<int64_t>{}};
}
AttrSpec integer(const char* name, int64_t value) {
  return AttrSpec{name, AttrKind::integer, false, value};
}

// x [N, C, H, W] sampled at grid [N, Ho, Wo, 2] (x, y in [-1, 1]): [N, C, Ho, Wo].
std::vector<ValueType> infer_grid_sample(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const ValueType& grid = in[1];
  require_rank("x", x, 4);
  require_rank("grid", grid, 4);
  if (!(grid.shape[3] == Dim::fixed(2))) {
    fail(describe("grid", grid) + " must end in 2 (x, y), not " + grid.shape[3].str());
  }
  require_same_dim(x.shape[0], grid.shape[0], "batch dims of x and grid");
  const std::string& mode = attr_string(attrs, "mode");
  if (mode != "bilinear" && mode != "nearest" && mode != "bicubic") {
    fail("mode '" + mode + "' is not one of bilinear, nearest, bicubic");
  }
  const std::string& padding = attr_string(attrs, "padding_mode");
  if (padding != "zeros" && padding != "border" && padding != "reflection") {
    fail("padding_mode '" + padding + "' is not one of zeros, border, reflection");
  }
  return {ValueType{x.dtype, {x.shape[0], x.shape[1], grid.shape[1], grid.shape[2]}}};
}

// x [N, C, H, W], rois [R, 4], batch_indices [R] -> [R, C, oh, ow].
std::vector<ValueType> infer_roi_align(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const ValueType& rois = in[1];
  const ValueType& batch = in[2];
  require_rank("x", x, 4);
  require_rank("rois", rois, 2);
  require_rank("batch_indices", batch, 1);
  if (!(rois.shape[1] == Dim::fixed(4))) {
    fail(describe("rois", rois) + " must end in 4 (x1, y1, x2, y2)");
  }
  require_same_dim(rois.shape[0], batch.shape[0], "region counts of rois and batch_indices");
  const std::string& mode = attr_string(attrs, "mode");
  if (mode != "avg" && mode != "max") fail("mode '" + mode + "' is not one of avg, max");
  const std::string& transform = attr_string(attrs, "coordinate_transformation_mode");
  if (transform != "half_pixel" && transform != "output_half_pixel") {
    fail("coordinate_transformation_mode '" + transform +
         "' is not one of half_pixel, output_half_pixel");
  }
  const int64_t height = attr_int(attrs, "output_height");
  const int64_t width = attr_int(attrs, "output_width");
  if (height < 1 || width < 1 || height > (1 << 16) || width > (1 << 16)) {
    fail("output_height and output_width must be in [1, 65536], got " + std::to_string(height) +
         " and " + std::to_string(width));
  }
  if (attr_int(attrs, "sampling_ratio") < 0) fail("sampling_ratio must be >= 0");
  return {ValueType{x.dtype, {rois.shape[0], x.shape[1], Dim::fixed(height), Dim::fixed(width)}}};
}

}  // namespace

void add_window_schemas(std::vector<OpSchema>& schemas) {
  const std::vector<InputSpec> conv_inputs = {
      {"x", InputDtype::floating}, {"w", InputDtype::floating}, {"b", InputDtype::floating}};
  OpSchema conv = fixed_inputs(
      "conv", conv_inputs, {ints("strides"), ints("pads"), ints("dilations"), integer("group", 1)},
      infer_conv);
  OpSchema transposed = fixed_inputs("conv_transpose", conv_inputs,
                                     {ints("strides"), ints("pads"), ints("dilations"),
                                      ints("output_padding"), integer("group", 1)},
                                     infer_conv_transpose);
  for (OpSchema* op : {&conv, &transposed}) {
    op->min_inputs = 2;  // the bias is optional
    schemas.push_back(std::move(*op));
  }
  for (const char* name : {"max_pool", "avg_pool"}) {
    OpSchema pool = fixed_inputs(name, {{"x", InputDtype::floating}},
                                 {ints("kernel", true), ints("strides"), ints("pads"),
                                  ints("dilations"), integer("ceil_mode", 0)},
                                 infer_pool);
    if (pool.name == "avg_pool") pool.attrs.push_back(integer("count_include_pad", 0));
    schemas.push_back(std::move(pool));
  }
  schemas.push_back(fixed_inputs(
      "pad", {{"x", InputDtype::any}},
      {ints("pads", true), AttrSpec{"mode", AttrKind::string, false, std::string("constant")},
       AttrSpec{"value", AttrKind::real, false, 0.0}},
      infer_pad));
  schemas.push_back(
      fixed_inputs("grid_sample", {{"x", InputDtype::floating}, {"grid", InputDtype::floating}},
                   {AttrSpec{"mode", AttrKind::string, false, std::string("bilinear")},
                    AttrSpec{"padding_mode", AttrKind::string, false, std::string("zeros")},
                    integer("align_corners", 0)},
                   infer_grid_sample));
  schemas.push_back(fixed_inputs(
      "roi_align",
      {{"x", InputDtype::floating},
       {"rois", InputDtype::floating},
       {"batch_indices", InputDtype::indices}},
      {AttrSpec{"mode", AttrKind::string, false, std::string("avg")}, integer("output_height", 1),
       integer("output_width", 1), integer("sampling_ratio", 0),
       AttrSpec{"spatial_scale", AttrKind::real, false, 1.0},
       AttrSpec{"coordinate_transformation_mode", AttrKind::string, false,
                std::string("half_pixel")}},
      infer_roi_align));
}

}  // namespace rtscope::schema::detail
