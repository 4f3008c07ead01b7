// Mappers of the ONNX ops that read or write at index positions: TopK,
// ScatterElements / Scatter, ScatterND, GatherND, Compress. Index tensors may be
// runtime values; the rtscope ops check every index when they run.
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

}  // namespace

void add_index_mappers(MapperTable& t) {
  t["TopK"] = {map_top_k};
  t["Scatter"] = {map_scatter_elements, 9};
  t["ScatterElements"] = {map_scatter_elements, 11};
  t["ScatterND"] = {map_scatter_nd, 11};
  t["GatherND"] = {map_gather_nd, 11};
  t["Compress"] = {map_compress, 9};
}

}  // namespace rtscope::onnx_import
