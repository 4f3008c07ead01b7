// Mappers of the ONNX ops that read or write at index positions: TopK,
// ScatterElements / Scatter, ScatterND, GatherND, Compress, ReverseSequence,
// MaxUnpool, NonMaxSuppression. Index tensors may be runtime values; the rtscope ops check
// every index when they run.
#include <optional>

#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

// TopK: the positions by top_k, the values by gather_elements at them.
// `sorted` 0 leaves the order to the runtime: sorted order is one.
void map_top_k(Context& ctx) {
  const int64_t k =
      ctx.opset() < 10 ? ctx.attr_int("k", -1) : ctx.constant_ints(ctx.input(1), "K").at(0);
  const std::size_t rank = ctx.static_shape(ctx.input(0)).size();
  const int64_t axis = axis_in(ctx, ctx.attr_int("axis", -1), rank);
  const std::string indices_out = ctx.node().output_size() > 1 ? ctx.output(1) : std::string();
  const std::string positions =
      ctx.emit("top_k", {ctx.input(0)},
               {{"k", k}, {"axis", axis}, {"largest", ctx.attr_int("largest", 1)}}, indices_out);
  ctx.emit("gather_elements", {ctx.input(0), positions}, {{"axis", axis}}, ctx.output(0));
}

// Scatter (opsets 9, 10) is ScatterElements without reduction.
void map_scatter_elements(Context& ctx) {
  ctx.emit("scatter_elements", {ctx.input(0), ctx.input(1), ctx.input(2)},
           {{"axis", ctx.attr_int("axis", 0)}, {"reduction", ctx.attr_string("reduction", "none")}},
           ctx.output(0));
}

void map_scatter_nd(Context& ctx) {
  ctx.emit("scatter_nd", {ctx.input(0), ctx.input(1), ctx.input(2)},
           {{"reduction", ctx.attr_string("reduction", "none")}}, ctx.output(0));
}

void map_gather_nd(Context& ctx) {
  ctx.emit("gather_nd", {ctx.input(0), ctx.input(1)},
           {{"batch_dims", ctx.attr_int("batch_dims", 0)}}, ctx.output(0));
}

// Compress: the slices (elements, without an axis) where the condition is
// true, as gather of nonzero(condition) along the axis. The output length
// is known only after running (nonzero is data-dependent). A condition
// shorter than the axis ignores the rest of the axis.
void map_compress(Context& ctx) {
  std::string data = ctx.input(0);
  const Shape condition = ctx.static_shape(ctx.input(1));
  if (condition.size() != 1) ctx.fail("condition must have rank 1");
  int64_t axis = 0;
  if (ctx.has_attr("axis")) {
    axis = axis_in(ctx, ctx.attr_int("axis", 0), ctx.static_shape(data).size());
  } else {
    data = ctx.reshape(data, {element_count(ctx.static_shape(data))});
  }
  const int64_t length = ctx.static_shape(data)[static_cast<std::size_t>(axis)];
  if (condition[0] > length) {
    ctx.fail("condition has " + std::to_string(condition[0]) + " entries for an axis of " +
             std::to_string(length));
  }
  if (condition[0] < length) {
    data =
        ctx.emit("slice", {data}, {{"axis", axis}, {"start", int64_t{0}}, {"end", condition[0]}});
  }
  // nonzero of a rank-1 condition is [n, 1]; its positions as [n].
  const std::string positions =
      ctx.emit("reshape", {ctx.emit("nonzero", {ctx.input(1)})}, {{"shape", ints({0})}});
  ctx.emit("gather", {data, positions}, {{"axis", axis}}, ctx.output(0));
}

// ReverseSequence: the first sequence_lens[b] entries of each batch entry
// reversed along the time axis, the rest kept; gather_elements along the
// time axis at positions computed at import, so sequence_lens must be
// known then (an initializer, a Constant, or a folded value).
void map_reverse_sequence(Context& ctx) {
  const std::string& data = ctx.input(0);
  const Shape shape = ctx.static_shape(data);
  if (shape.size() < 2) ctx.fail("input must have rank 2 or more");
  const int64_t batch_axis = ctx.attr_int("batch_axis", 1);
  const int64_t time_axis = ctx.attr_int("time_axis", 0);
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0))) {
    ctx.fail("batch_axis " + std::to_string(batch_axis) + " and time_axis " +
             std::to_string(time_axis) + " must be 0 and 1 in some order");
  }
  const std::vector<int64_t> lens = ctx.constant_ints(ctx.input(1), "sequence_lens");
  const int64_t batch = shape[static_cast<std::size_t>(batch_axis)];
  const int64_t steps = shape[static_cast<std::size_t>(time_axis)];
  if (static_cast<int64_t>(lens.size()) != batch) {
    ctx.fail("sequence_lens has " + std::to_string(lens.size()) + " entries for a batch of " +
             std::to_string(batch));
  }
  for (int64_t len : lens) {
    if (len < 0 || len > steps) {
      ctx.fail("sequence_lens entry " + std::to_string(len) + " is outside [0, " +
               std::to_string(steps) + "]");
    }
  }
  Tensor positions = Tensor::empty(DType::i64, shape);
  int64_t inner = 1;
  for (std::size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  int64_t* out = positions.data_as<int64_t>();
  for (int64_t i = 0; i < shape[0]; ++i) {
    for (int64_t j = 0; j < shape[1]; ++j) {
      const int64_t t = time_axis == 0 ? i : j;
      const int64_t len = lens[static_cast<std::size_t>(time_axis == 0 ? j : i)];
      const int64_t source = t < len ? len - 1 - t : t;
      std::fill_n(out + (i * shape[1] + j) * inner, inner, source);
    }
  }
  ctx.emit("gather_elements", {data, ctx.add_weight("reversed_positions", std::move(positions))},
           {{"axis", time_axis}}, ctx.output(0));
}

// MaxUnpool: zeros with X's values written at the positions I holds (flat
// over the whole unpooled tensor, as MaxPool's Indices are):
// scatter_elements into the flattened zeros of the shape the pooling
// attributes invert. An output_shape input larger than that pads zeros at
// the end of each spatial dim, where ONNX's reference places them.
void map_max_unpool(Context& ctx) {
  const Shape x = ctx.static_shape(ctx.input(0));
  if (x.size() < 3) ctx.fail("X must have rank 3 or more");
  if (ctx.static_shape(ctx.input(1)) != x) ctx.fail("I must have X's shape");
  const std::size_t spatial = x.size() - 2;
  const std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape");
  const std::vector<int64_t> strides = ctx.attr_ints("strides", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  if (kernel.size() != spatial || strides.size() != spatial || pads.size() != 2 * spatial) {
    ctx.fail("kernel_shape, strides and pads must cover the " + std::to_string(spatial) +
             " spatial dims");
  }
  Shape unpooled = {x[0], x[1]};
  for (std::size_t d = 0; d < spatial; ++d) {
    unpooled.push_back((x[d + 2] - 1) * strides[d] + kernel[d] - pads[d] - pads[spatial + d]);
  }
  int64_t count = 1;
  for (int64_t dim : unpooled) {
    // The zeros are a weight of the model: at most 2^28 of them.
    if (dim <= 0 || dim > (int64_t{1} << 28) || count > (int64_t{1} << 28) / dim) {
      ctx.fail("unpooled shape " + shape_to_string(unpooled) + " is empty or too large");
    }
    count *= dim;
  }
  Shape out = unpooled;
  if (ctx.has_input(2)) {
    out = ctx.constant_ints(ctx.input(2), "output_shape");
    bool fits = out.size() == unpooled.size() && out[0] == x[0] && out[1] == x[1];
    for (std::size_t d = 2; fits && d < out.size(); ++d) fits = out[d] >= unpooled[d];
    if (!fits) {
      ctx.fail("output_shape " + shape_to_string(out) + " is smaller than the unpooled shape " +
               shape_to_string(unpooled) + " or changes its batch or channels");
    }
  }
  const int64_t n = element_count(x);
  const std::string zeros = ctx.add_scalar("unpooled", 0.0, ctx.dtype(ctx.input(0)), {count});
  const std::string flat = ctx.emit(
      "scatter_elements", {zeros, ctx.reshape(ctx.input(1), {n}), ctx.reshape(ctx.input(0), {n})},
      {{"axis", int64_t{0}}, {"reduction", std::string("none")}});
  if (out == unpooled) {
    ctx.reshape(flat, out, ctx.output(0));
    return;
  }
  std::vector<int64_t> extra(2 * out.size(), 0);
  for (std::size_t d = 2; d < out.size(); ++d) extra[out.size() + d] = out[d] - unpooled[d];
  ctx.emit("pad", {ctx.reshape(flat, unpooled)}, {{"pads", extra}}, ctx.output(0));
}

// NonMaxSuppression: rtscope's non_max_suppression with the optional
// scalar inputs (max_output_boxes_per_class, iou_threshold,
// score_threshold) as attributes, so they must be known at import.
void map_non_max_suppression(Context& ctx) {
  ctx.only_attrs({"center_point_box"});
  auto known = [&ctx](std::size_t index, const char* role) -> std::optional<double> {
    if (!ctx.has_input(index)) return std::nullopt;
    const std::vector<double> values = ctx.constant_doubles(ctx.input(index), role);
    if (values.size() != 1) ctx.fail(std::string(role) + " must hold one value");
    return values[0];
  };
  const std::optional<double> max_per_class = known(2, "max_output_boxes_per_class");
  if (!max_per_class || *max_per_class <= 0) {
    ctx.unsupported("max_output_boxes_per_class 0 selects no box (rtscope has no empty outputs)");
  }
  if (*max_per_class > double(int64_t{1} << 31)) {
    ctx.fail("max_output_boxes_per_class " + std::to_string(*max_per_class) + " is too large");
  }
  AttrMap attrs{{"center_point_box", ctx.attr_int("center_point_box", 0)},
                {"max_output_boxes_per_class", static_cast<int64_t>(*max_per_class)}};
  if (const auto iou = known(3, "iou_threshold")) attrs["iou_threshold"] = *iou;
  if (const auto score = known(4, "score_threshold")) attrs["score_threshold"] = *score;
  ctx.emit("non_max_suppression", {ctx.input(0), ctx.input(1)}, std::move(attrs), ctx.output(0));
}

}  // namespace

void add_index_mappers(MapperTable& t) {
  t["NonMaxSuppression"] = {map_non_max_suppression, 10};
  t["MaxUnpool"] = {map_max_unpool, 9};
  t["ReverseSequence"] = {map_reverse_sequence, 10};
  t["TopK"] = {map_top_k};
  t["Scatter"] = {map_scatter_elements, 9};
  t["ScatterElements"] = {map_scatter_elements, 11};
  t["ScatterND"] = {map_scatter_nd, 11};
  t["GatherND"] = {map_gather_nd, 11};
  t["Compress"] = {map_compress, 9};
}

}  // namespace rtscope::onnx_import
