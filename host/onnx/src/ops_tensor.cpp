// Mappers of ONNX data movement ops: reshapes, Transpose, Concat, Slice,
// Split, Gather, Expand, Tile, Pad, ArgMax/ArgMin, NonZero,
// DepthToSpace/SpaceToDepth.
#include <algorithm>
#include <numeric>

#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

// Output shape of Reshape by ONNX rules (0 copies unless allowzero, one -1).
Shape reshape_target(Context& ctx, const Shape& in, std::vector<int64_t> target, bool allow_zero) {
  int64_t known = 1;
  int infer = -1;
  for (std::size_t d = 0; d < target.size(); ++d) {
    if (target[d] == 0 && !allow_zero) {
      if (d >= in.size()) ctx.fail("shape copies dim " + std::to_string(d) + " the input lacks");
      target[d] = in[d];
    }
    if (target[d] == -1) {
      if (infer >= 0) ctx.fail("shape has two -1 dims");
      infer = static_cast<int>(d);
    } else if (target[d] < 0) {
      ctx.fail("shape dim " + std::to_string(target[d]) + " is negative");
    } else if (__builtin_mul_overflow(known, target[d], &known)) {
      ctx.fail("shape " + shape_to_string(Shape(target.begin(), target.end())) +
               " has more elements than fit in 64 bits");
    }
  }
  const int64_t n = element_count(in);
  if (infer >= 0) {
    if (known == 0 || n % known != 0) ctx.fail("cannot infer the -1 dim");
    target[infer] = n / known;
  }
  if (element_count(target) != n) {
    ctx.fail("shape " + shape_to_string(target) + " holds " +
             std::to_string(element_count(target)) + " elements, the input " + std::to_string(n));
  }
  return target;
}

void map_reshape(Context& ctx) {
  std::vector<int64_t> target =
      ctx.opset() >= 5 ? ctx.constant_ints(ctx.input(1), "shape") : ctx.attr_ints("shape");
  const bool allow_zero = ctx.attr_int("allowzero", 0) != 0;
  if (!ctx.is_static(ctx.input(0))) {
    if (allow_zero) ctx.unsupported("allowzero on a dynamic shape");
    ctx.emit("reshape", {ctx.input(0)}, {{"shape", target}}, ctx.output(0));
    return;
  }
  ctx.reshape(ctx.input(0), reshape_target(ctx, ctx.static_shape(ctx.input(0)), target, allow_zero),
              ctx.output(0));
}

void map_flatten(Context& ctx) {
  const Shape in = ctx.static_shape(ctx.input(0));
  const auto rank = static_cast<int64_t>(in.size());
  int64_t axis = ctx.attr_int("axis", 1);
  if (axis < -rank || axis > rank) ctx.fail("axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += rank;
  const int64_t outer =
      std::accumulate(in.begin(), in.begin() + axis, int64_t{1}, std::multiplies<>());
  const int64_t inner =
      std::accumulate(in.begin() + axis, in.end(), int64_t{1}, std::multiplies<>());
  ctx.reshape(ctx.input(0), {outer, inner}, ctx.output(0));
}

std::vector<int64_t> axes_of(Context& ctx, std::size_t input) {
  if (ctx.opset() >= 13) {
    return ctx.has_input(input) ? ctx.constant_ints(ctx.input(input), "axes")
                                : std::vector<int64_t>{};
  }
  return ctx.attr_ints("axes");
}

void map_squeeze(Context& ctx) {
  Shape shape = ctx.static_shape(ctx.input(0));
  std::vector<int64_t> axes = axes_of(ctx, 1);
  if (axes.empty()) {
    std::erase(shape, 1);
  } else {
    for (int64_t& a : axes) a = axis_in(ctx, a, shape.size());
    std::sort(axes.rbegin(), axes.rend());
    for (int64_t a : axes) {
      if (shape[a] != 1)
        ctx.fail("cannot squeeze axis " + std::to_string(a) + " of size " +
                 std::to_string(shape[a]));
      shape.erase(shape.begin() + a);
    }
  }
  ctx.reshape(ctx.input(0), shape, ctx.output(0));
}

void map_unsqueeze(Context& ctx) {
  Shape shape = ctx.static_shape(ctx.input(0));
  std::vector<int64_t> axes = axes_of(ctx, 1);
  const std::size_t rank = shape.size() + axes.size();
  for (int64_t& a : axes) a = axis_in(ctx, a, rank);
  std::sort(axes.begin(), axes.end());
  for (int64_t a : axes) shape.insert(shape.begin() + a, 1);
  ctx.reshape(ctx.input(0), shape, ctx.output(0));
}

void map_transpose(Context& ctx) {
  const std::size_t rank = ctx.type(ctx.input(0)).shape.size();
  std::vector<int64_t> perm = ctx.attr_ints("perm");
  if (perm.empty()) {
    for (std::size_t i = rank; i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  }
  ctx.emit("transpose", {ctx.input(0)}, {{"perm", perm}}, ctx.output(0));
}

void map_concat(Context& ctx) {
  std::vector<std::string> inputs;
  for (std::size_t i = 0; i < ctx.input_count(); ++i) {
    // A zero-size operand adds nothing.
    if (ctx.is_static(ctx.input(i)) && element_count(ctx.static_shape(ctx.input(i))) == 0) continue;
    inputs.push_back(ctx.input(i));
  }
  if (inputs.empty()) ctx.unsupported("every Concat input is empty");
  ctx.emit("concat", inputs, {{"axis", ctx.attr_int("axis", 1)}}, ctx.output(0));
}

void map_slice(Context& ctx) {
  const Shape shape = ctx.static_shape(ctx.input(0));
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attr_ints("starts");
    ends = ctx.attr_ints("ends");
    axes = ctx.attr_ints("axes");
  } else {
    starts = ctx.constant_ints(ctx.input(1), "starts");
    ends = ctx.constant_ints(ctx.input(2), "ends");
    if (ctx.has_input(3)) axes = ctx.constant_ints(ctx.input(3), "axes");
    if (ctx.has_input(4)) steps = ctx.constant_ints(ctx.input(4), "steps");
  }
  if (axes.empty()) {
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    ctx.fail("starts, ends, axes and steps differ in length");
  }
  std::string x = ctx.input(0);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = axis_in(ctx, axes[i], shape.size());
    const int64_t dim = shape[axis];
    if (steps[i] == 0) ctx.fail("Slice step is 0");
    if (steps[i] != 1) {
      // Any other step: a gather of the positions it visits (ONNX's
      // clamping rules for positive and negative steps).
      const int64_t step = steps[i];
      int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
      int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
      if (step > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
      } else {
        s = std::clamp<int64_t>(s, -1, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
      }
      std::vector<int64_t> positions;
      // A step from the file may be huge: the walk stops on overflow.
      for (int64_t p = s; step > 0 ? p < e : p > e;) {
        positions.push_back(p);
        if (__builtin_add_overflow(p, step, &p)) break;
      }
      if (positions.empty()) ctx.unsupported("Slice yields an empty tensor");
      Tensor index = Tensor::from_bytes(DType::i64, {static_cast<int64_t>(positions.size())},
                                        positions.data());
      x = ctx.emit("gather", {x, ctx.add_weight(ctx.output(0) + "/positions", index)},
                   {{"axis", axis}});
      continue;
    }
    int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    s = std::clamp<int64_t>(s, 0, dim);
    e = std::clamp<int64_t>(e, 0, dim);
    if (e <= s) ctx.unsupported("Slice yields an empty tensor");
    if (s == 0 && e == dim) continue;
    x = ctx.emit("slice", {x}, {{"axis", axis}, {"start", s}, {"end", e}});
  }
  ctx.identity(x, ctx.output(0));
}

void map_split(Context& ctx) {
  const Shape shape = ctx.static_shape(ctx.input(0));
  const int64_t axis = axis_in(ctx, ctx.attr_int("axis", 0), shape.size());
  std::vector<int64_t> sizes = ctx.opset() >= 13 && ctx.has_input(1)
                                   ? ctx.constant_ints(ctx.input(1), "split")
                                   : ctx.attr_ints("split");
  const auto outputs = static_cast<int64_t>(ctx.node().output_size());
  if (sizes.empty()) {
    if (shape[axis] % outputs != 0) ctx.fail("dim does not split evenly");
    sizes.assign(static_cast<std::size_t>(outputs), shape[axis] / outputs);
  }
  if (static_cast<int64_t>(sizes.size()) != outputs)
    ctx.fail("split sizes and outputs differ in count");
  int64_t start = 0;
  for (std::size_t o = 0; o < sizes.size(); ++o) {
    if (sizes[o] <= 0) ctx.unsupported("an empty split part");
    const int64_t end = start + sizes[o];
    if (end > shape[axis]) ctx.fail("split sizes exceed the dim");
    if (!ctx.output(o).empty()) {
      ctx.emit("slice", {ctx.input(0)}, {{"axis", axis}, {"start", start}, {"end", end}},
               ctx.output(o));
    }
    start = end;
  }
}

void map_gather(Context& ctx) {
  ctx.emit("gather", {ctx.input(0), ctx.input(1)}, {{"axis", ctx.attr_int("axis", 0)}},
           ctx.output(0));
}

void map_expand(Context& ctx) {
  const std::vector<int64_t> shape = ctx.constant_ints(ctx.input(1), "shape");
  ctx.emit("expand", {ctx.input(0)}, {{"shape", shape}}, ctx.output(0));
}

void map_tile(Context& ctx) {
  const std::vector<int64_t> repeats = ctx.constant_ints(ctx.input(1), "repeats");
  std::string x = ctx.input(0);
  for (std::size_t axis = 0; axis < repeats.size(); ++axis) {
    if (repeats[axis] < 1) ctx.unsupported("Tile repeat " + std::to_string(repeats[axis]));
    if (repeats[axis] == 1) continue;
    x = ctx.emit("concat", std::vector<std::string>(static_cast<std::size_t>(repeats[axis]), x),
                 {{"axis", static_cast<int64_t>(axis)}});
  }
  ctx.identity(x, ctx.output(0));
}

void map_pad(Context& ctx) {
  const std::size_t rank = ctx.type(ctx.input(0)).shape.size();
  std::vector<int64_t> pads;
  double value = 0.0;
  if (ctx.opset() < 11) {
    pads = ctx.attr_ints(ctx.opset() < 2 ? "paddings" : "pads");
    value = ctx.attr_float("value", 0.0);
  } else {
    pads = ctx.constant_ints(ctx.input(1), "pads");
    if (ctx.has_input(2)) value = ctx.constant_doubles(ctx.input(2), "constant_value").at(0);
  }
  if (pads.size() != 2 * rank)
    ctx.fail("pads has " + std::to_string(pads.size()) + " values for rank " +
             std::to_string(rank));
  ctx.emit("pad", {ctx.input(0)},
           {{"pads", pads}, {"mode", ctx.attr_string("mode", "constant")}, {"value", value}},
           ctx.output(0));
}

// Positions L-1, ..., 0 as an i64 weight: gathering with them reverses an
// axis, and maps an index into the reversed axis back.
std::string reversed_positions(Context& ctx, int64_t length) {
  Tensor t = Tensor::empty(DType::i64, {length});
  for (int64_t i = 0; i < length; ++i) t.data_as<int64_t>()[i] = length - 1 - i;
  return ctx.add_weight(ctx.output(0) + "/reversed", t);
}

void arg_reduce(Context& ctx, bool is_min) {
  require_float(ctx, ctx.input(0));
  const Shape shape = ctx.static_shape(ctx.input(0));
  const int64_t axis = axis_in(ctx, ctx.attr_int("axis", 0), shape.size());
  const bool last = ctx.attr_int("select_last_index", 0) != 0;
  std::string x = is_min ? ctx.emit("neg", {ctx.input(0)}) : ctx.input(0);
  const bool keep = ctx.attr_int("keepdims", 1) != 0;
  std::string out;
  if (last) {
    // The last maximum is the first one of the reversed axis.
    const std::string positions = reversed_positions(ctx, shape[axis]);
    const std::string flipped = ctx.emit("gather", {x, positions}, {{"axis", axis}});
    const std::string index = ctx.emit("argmax", {flipped}, {{"axis", axis}});
    out = ctx.emit("gather", {positions, index}, {{"axis", int64_t{0}}}, keep ? "" : ctx.output(0));
  } else {
    out = ctx.emit("argmax", {x}, {{"axis", axis}}, keep ? "" : ctx.output(0));
  }
  if (keep) {
    Shape kept = shape;
    kept[axis] = 1;
    ctx.reshape(out, kept, ctx.output(0));
  }
}
void map_argmax(Context& ctx) { arg_reduce(ctx, false); }
void map_argmin(Context& ctx) { arg_reduce(ctx, true); }

void map_gather_elements(Context& ctx) {
  ctx.emit("gather_elements", {ctx.input(0), ctx.input(1)}, {{"axis", ctx.attr_int("axis", 0)}},
           ctx.output(0));
}

void map_trilu(Context& ctx) {
  const int64_t k = ctx.has_input(1) ? ctx.constant_ints(ctx.input(1), "k").at(0) : 0;
  ctx.emit("trilu", {ctx.input(0)}, {{"upper", ctx.attr_int("upper", 1)}, {"k", k}}, ctx.output(0));
}

// OneHot: where(positions == indices, on, off) along a new axis.
void map_one_hot(Context& ctx) {
  const int64_t depth = static_cast<int64_t>(ctx.constant_doubles(ctx.input(1), "depth").at(0));
  if (depth < 1) ctx.fail("depth must be >= 1");
  if (ctx.static_shape(ctx.input(2)) != Shape{2}) ctx.fail("values must hold [off, on]");
  Shape shape = ctx.static_shape(ctx.input(0));
  const int64_t axis = axis_in(ctx, ctx.attr_int("axis", -1), shape.size() + 1);
  // Indices as i64 in [0, depth): negative ones count from the end.
  std::string indices = ctx.input(0);
  if (ctx.dtype(indices) != DType::i64) indices = ctx.emit("cast_i64", {indices});
  Shape expanded = shape;
  expanded.insert(expanded.begin() + axis, 1);
  indices = ctx.reshape(indices, expanded);
  Shape positions_shape(expanded.size(), 1);
  positions_shape[axis] = depth;
  Tensor positions = Tensor::empty(DType::i64, positions_shape);
  Tensor negative = Tensor::empty(DType::i64, positions_shape);
  for (int64_t i = 0; i < depth; ++i) {
    positions.data_as<int64_t>()[i] = i;
    negative.data_as<int64_t>()[i] = i - depth;
  }
  const std::string hit = ctx.emit(
      "or", {ctx.emit("equal", {ctx.add_weight(ctx.output(0) + "/positions", positions), indices}),
             ctx.emit("equal", {ctx.add_weight(ctx.output(0) + "/negative", negative), indices})});
  // values [off, on] may be a runtime input: its elements by gather.
  const std::string on =
      ctx.emit("gather", {ctx.input(2), ctx.add_scalar(ctx.output(0) + "/one", 1, DType::i64)});
  const std::string off =
      ctx.emit("gather", {ctx.input(2), ctx.add_scalar(ctx.output(0) + "/zero", 0, DType::i64)});
  ctx.emit("where", {on, off, hit}, {}, ctx.output(0));
}

void map_cast_like(Context& ctx) {
  const DType to = ctx.dtype(ctx.input(1));
  ctx.emit("cast_" + std::string(to_string(to)), {ctx.input(0)}, {}, ctx.output(0));
}

void map_nonzero(Context& ctx) {
  const std::string rows = ctx.emit("nonzero", {ctx.input(0)});
  ctx.emit("transpose", {rows}, {{"perm", std::vector<int64_t>{1, 0}}}, ctx.output(0));
}

void map_depth_to_space(Context& ctx) {
  const Shape s = ctx.static_shape(ctx.input(0));
  if (s.size() != 4) ctx.fail("input must be rank 4");
  const int64_t b = ctx.attr_int("blocksize", 0);
  if (b <= 0 || s[1] % (b * b) != 0) ctx.fail("blocksize does not divide the channels");
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  const bool crd = ctx.attr_string("mode", "DCR") == "CRD";
  std::string x = crd ? ctx.reshape(ctx.input(0), {n, c / (b * b), b, b, h, w})
                      : ctx.reshape(ctx.input(0), {n, b, b, c / (b * b), h, w});
  const std::vector<int64_t> perm =
      crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
  x = ctx.emit("transpose", {x}, {{"perm", perm}});
  ctx.reshape(x, {n, c / (b * b), h * b, w * b}, ctx.output(0));
}

void map_space_to_depth(Context& ctx) {
  const Shape s = ctx.static_shape(ctx.input(0));
  if (s.size() != 4) ctx.fail("input must be rank 4");
  const int64_t b = ctx.attr_int("blocksize", 0);
  if (b <= 0 || s[2] % b != 0 || s[3] % b != 0)
    ctx.fail("blocksize does not divide the spatial dims");
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  std::string x = ctx.reshape(ctx.input(0), {n, c, h / b, b, w / b, b});
  x = ctx.emit("transpose", {x}, {{"perm", std::vector<int64_t>{0, 3, 5, 1, 2, 4}}});
  ctx.reshape(x, {n, c * b * b, h / b, w / b}, ctx.output(0));
}

}  // namespace

void add_tensor_mappers(MapperTable& t) {
  t["Reshape"] = {map_reshape};
  t["Flatten"] = {map_flatten};
  t["Squeeze"] = {map_squeeze};
  t["Unsqueeze"] = {map_unsqueeze};
  t["Transpose"] = {map_transpose};
  t["Concat"] = {map_concat};
  t["Slice"] = {map_slice};
  t["Split"] = {map_split};
  t["Gather"] = {map_gather};
  t["Expand"] = {map_expand};
  t["Tile"] = {map_tile};
  t["Pad"] = {map_pad};
  t["ArgMax"] = {map_argmax};
  t["ArgMin"] = {map_argmin};
  t["NonZero"] = {map_nonzero};
  t["GatherElements"] = {map_gather_elements};
  t["Trilu"] = {map_trilu};
  t["OneHot"] = {map_one_hot};
  t["CastLike"] = {map_cast_like};
  t["DepthToSpace"] = {map_depth_to_space};
  t["SpaceToDepth"] = {map_space_to_depth};
}

}  // namespace rtscope::onnx_import
