// Mappers of ONNX's control flow, resolved at import: If takes the branch
// its condition (known at import) names; Loop and Scan are unrolled, their
// body imported once per iteration with fresh names. A Loop's trip count
// and condition must be known at import (a condition the body computes
// must fold to a constant each iteration); a Scan runs over its inputs'
// static scan axis. Unrolled iterations are bounded like the recurrent
// ops'.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "mappers.hpp"
#include "onnx_tensor.hpp"

namespace rtscope::onnx_import {
namespace {

constexpr int64_t kMaxIterations = 4096;
// Bodies imported in the whole model: nested loops multiply their trip
// counts, and a hostile file could otherwise ask for 4096^depth copies.
constexpr int64_t kMaxInlinedBodies = 16384;

// Renames every input of `graph`'s nodes (and of their own subgraphs) found
// in `names`; ONNX's names are unique across scopes, so no name shadows.
void rename_inputs(onnx::GraphProto& graph, const std::map<std::string, std::string>& names) {
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    for (std::string& in : *node.mutable_input()) {
      if (auto it = names.find(in); it != names.end()) in = it->second;
    }
    for (onnx::AttributeProto& attr : *node.mutable_attribute()) {
      if (attr.has_g()) rename_inputs(*attr.mutable_g(), names);
      for (onnx::GraphProto& g : *attr.mutable_graphs()) rename_inputs(g, names);
    }
  }
}

const onnx::GraphProto& subgraph(Context& ctx, const char* name) {
  const onnx::AttributeProto* attr = ctx.attr(name);
  if (attr == nullptr || !attr->has_g()) ctx.fail("has no '" + std::string(name) + "' graph");
  return attr->g();
}

// Imports the nodes of `body` once: its inputs bound to `bound`, every value
// it produces under a fresh name (so iterations stay apart), outer-scope
// names as they are. Returns the names of its outputs. `nodes` keeps the
// renamed node copies alive for the import.
std::vector<std::string> inline_body(Context& ctx, const onnx::GraphProto& body,
                                     const std::vector<std::string>& bound,
                                     std::deque<onnx::GraphProto>& nodes) {
  if (++ctx.inlined_bodies > kMaxInlinedBodies) {
    ctx.unsupported("imports more than " + std::to_string(kMaxInlinedBodies) +
                    " subgraph bodies (branches and loop iterations, nested ones multiplied)");
  }
  if (static_cast<std::size_t>(body.input_size()) != bound.size()) {
    ctx.fail("its body takes " + std::to_string(body.input_size()) + " inputs, " +
             std::to_string(bound.size()) + " are given");
  }
  std::map<std::string, std::string> names;
  for (int i = 0; i < body.input_size(); ++i) names[body.input(i).name()] = bound[i];
  for (const onnx::TensorProto& init : body.initializer()) {
    const TensorSource source{ctx.file + ": initializer '" + init.name() + "' of a subgraph",
                              ctx.dir, nullptr};
    const Tensor t = tensor_from_proto(init, source);
    const std::string name = ctx.fresh(init.name());
    // A copy: the proto's bytes do not outlive the import.
    ctx.constants[name] = Tensor::from_bytes(t.dtype(), t.shape(), t.data());
    names[init.name()] = name;
  }
  for (const onnx::NodeProto& node : body.node()) {
    for (const std::string& out : node.output()) {
      if (!out.empty()) names[out] = ctx.fresh(out);
    }
  }
  onnx::GraphProto& copy = nodes.emplace_back(body);
  for (onnx::NodeProto& node : *copy.mutable_node()) {
    for (std::string& out : *node.mutable_output()) {
      if (!out.empty()) out = names.at(out);
    }
  }
  rename_inputs(copy, names);
  const onnx::NodeProto& parent = ctx.node();
  const std::size_t parent_index = ctx.node_index();
  for (int i = 0; i < copy.node_size(); ++i) {
    import_node(ctx, copy.node(i), static_cast<std::size_t>(i));
  }
  ctx.begin_node(parent, parent_index);
  std::vector<std::string> outputs;
  for (const auto& out : body.output()) {
    auto it = names.find(out.name());
    outputs.push_back(it == names.end() ? out.name() : it->second);
  }
  return outputs;
}

bool known_true(Context& ctx, const std::string& name, const char* role) {
  const std::vector<int64_t> values = ctx.constant_ints(name, role);
  if (values.size() != 1) ctx.fail(std::string(role) + " must hold one value");
  return values[0] != 0;
}

std::string scalar_constant(Context& ctx, const std::string& hint, DType dtype, int64_t value) {
  Tensor t = Tensor::empty(dtype, {});
  if (dtype == DType::i64) {
    *t.data_as<int64_t>() = value;
  } else {
    *t.data_as<uint8_t>() = value != 0 ? 1 : 0;
  }
  const std::string name = ctx.fresh(hint);
  ctx.constants[name] = std::move(t);
  return name;
}

// Stacks per-iteration values along a new `axis` (in iteration order, or
// reversed) into `out`.
void stack(Context& ctx, const std::vector<std::string>& parts, int64_t axis, bool reverse,
           const std::string& out) {
  if (parts.empty()) ctx.unsupported("no iteration ran, so a scan output would be empty");
  std::vector<std::string> lifted;
  for (const std::string& part : parts) {
    Shape shape = ctx.static_shape(part);
    const int64_t rank = static_cast<int64_t>(shape.size()) + 1;
    const int64_t at = axis < 0 ? axis + rank : axis;
    if (at < 0 || at >= rank)
      ctx.fail("scan output axis " + std::to_string(axis) + " is out of range");
    shape.insert(shape.begin() + at, 1);
    lifted.push_back(ctx.reshape(part, shape));
    axis = at;
  }
  if (reverse) std::reverse(lifted.begin(), lifted.end());
  if (lifted.size() == 1) {
    ctx.identity(lifted[0], out);
  } else {
    ctx.emit("concat", lifted, {{"axis", axis}}, out);
  }
}

void map_if(Context& ctx) {
  const bool then = known_true(ctx, ctx.input(0), "cond");
  std::deque<onnx::GraphProto> nodes;
  const std::vector<std::string> outs =
      inline_body(ctx, subgraph(ctx, then ? "then_branch" : "else_branch"), {}, nodes);
  if (static_cast<int>(outs.size()) != ctx.node().output_size()) {
    ctx.fail("its branch has " + std::to_string(outs.size()) + " outputs for " +
             std::to_string(ctx.node().output_size()));
  }
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (!ctx.output(i).empty()) ctx.identity(outs[i], ctx.output(i));
  }
}

void map_loop(Context& ctx) {
  const onnx::GraphProto& body = subgraph(ctx, "body");
  const int64_t trip_count =
      ctx.has_input(0) ? ctx.constant_ints(ctx.input(0), "trip count M").at(0) : kMaxIterations + 1;
  bool keep_going = ctx.has_input(1) ? known_true(ctx, ctx.input(1), "cond") : true;
  std::vector<std::string> carried;
  for (std::size_t i = 2; i < ctx.input_count(); ++i) carried.push_back(ctx.input(i));
  const auto states = carried.size();
  if (static_cast<std::size_t>(ctx.node().output_size()) < states) {
    ctx.fail("has " + std::to_string(ctx.node().output_size()) + " outputs for " +
             std::to_string(states) + " loop-carried values");
  }
  const auto scan_outputs = static_cast<std::size_t>(ctx.node().output_size()) - states;
  if (static_cast<std::size_t>(body.output_size()) != 1 + states + scan_outputs) {
    ctx.fail("its body has " + std::to_string(body.output_size()) + " outputs; 1 + " +
             std::to_string(states) + " + " + std::to_string(scan_outputs) + " are needed");
  }
  std::vector<std::vector<std::string>> scans(scan_outputs);
  std::deque<onnx::GraphProto> nodes;
  int64_t i = 0;
  for (; i < trip_count && keep_going; ++i) {
    if (i >= kMaxIterations) {
      ctx.unsupported("runs more than " + std::to_string(kMaxIterations) +
                      " iterations (or has no trip count); the importer unrolls at most that many");
    }
    std::vector<std::string> bound = {scalar_constant(ctx, "iteration", DType::i64, i),
                                      scalar_constant(ctx, "cond", DType::boolean, 1)};
    bound.insert(bound.end(), carried.begin(), carried.end());
    const std::vector<std::string> outs = inline_body(ctx, body, bound, nodes);
    if (ctx.constant(outs[0]) == nullptr) {
      ctx.unsupported(
          "its condition is computed at run time; the importer unrolls loops whose "
          "condition is known at import");
    }
    keep_going = known_true(ctx, outs[0], "cond");
    for (std::size_t s = 0; s < states; ++s) carried[s] = outs[1 + s];
    for (std::size_t k = 0; k < scan_outputs; ++k) scans[k].push_back(outs[1 + states + k]);
  }
  for (std::size_t s = 0; s < states; ++s) {
    if (!ctx.output(s).empty()) ctx.identity(carried[s], ctx.output(s));
  }
  for (std::size_t k = 0; k < scan_outputs; ++k) {
    if (!ctx.output(states + k).empty()) stack(ctx, scans[k], 0, false, ctx.output(states + k));
  }
}

// Scan 9 and later: states, then scan inputs sliced along their axes.
void map_scan(Context& ctx) {
  if (ctx.opset() < 9) ctx.unsupported("Scan 8 (batched, with sequence_lens)");
  const onnx::GraphProto& body = subgraph(ctx, "body");
  const int64_t scan_inputs = ctx.attr_int("num_scan_inputs", -1);
  const auto inputs = static_cast<int64_t>(ctx.input_count());
  if (scan_inputs < 1 || scan_inputs > inputs) {
    ctx.fail("num_scan_inputs " + std::to_string(scan_inputs) + " does not fit its " +
             std::to_string(inputs) + " inputs");
  }
  const int64_t states = inputs - scan_inputs;
  const int64_t scan_outputs = ctx.node().output_size() - states;
  if (scan_outputs < 0) {
    ctx.fail("has " + std::to_string(ctx.node().output_size()) + " outputs for " +
             std::to_string(states) + " state variables");
  }
  const std::vector<int64_t> in_axes =
      ctx.attr_ints("scan_input_axes", std::vector<int64_t>(scan_inputs, 0));
  const std::vector<int64_t> in_reverse =
      ctx.attr_ints("scan_input_directions", std::vector<int64_t>(scan_inputs, 0));
  const std::vector<int64_t> out_axes =
      ctx.attr_ints("scan_output_axes", std::vector<int64_t>(scan_outputs, 0));
  const std::vector<int64_t> out_reverse =
      ctx.attr_ints("scan_output_directions", std::vector<int64_t>(scan_outputs, 0));
  if (static_cast<int64_t>(in_axes.size()) != scan_inputs ||
      static_cast<int64_t>(in_reverse.size()) != scan_inputs ||
      static_cast<int64_t>(out_axes.size()) != scan_outputs ||
      static_cast<int64_t>(out_reverse.size()) != scan_outputs) {
    ctx.fail("its scan axes and directions must list one value per scan input and output");
  }
  int64_t length = -1;
  std::vector<int64_t> axes;
  for (int64_t j = 0; j < scan_inputs; ++j) {
    const std::string& in = ctx.input(static_cast<std::size_t>(states + j));
    const Shape shape = ctx.static_shape(in);
    axes.push_back(axis_in(ctx, in_axes[j], shape.size()));
    const int64_t n = shape[static_cast<std::size_t>(axes.back())];
    if (length >= 0 && n != length) ctx.fail("its scan inputs differ in length along their axes");
    length = n;
  }
  if (length > kMaxIterations) {
    ctx.unsupported(std::to_string(length) + " iterations; the importer unrolls at most " +
                    std::to_string(kMaxIterations));
  }
  std::vector<std::string> carried;
  for (int64_t s = 0; s < states; ++s) carried.push_back(ctx.input(static_cast<std::size_t>(s)));
  std::vector<std::vector<std::string>> scans(static_cast<std::size_t>(scan_outputs));
  std::deque<onnx::GraphProto> nodes;
  for (int64_t t = 0; t < length; ++t) {
    std::vector<std::string> bound = carried;
    for (int64_t j = 0; j < scan_inputs; ++j) {
      const std::string& in = ctx.input(static_cast<std::size_t>(states + j));
      const int64_t at = in_reverse[j] != 0 ? length - 1 - t : t;
      Shape shape = ctx.static_shape(in);
      shape.erase(shape.begin() + axes[j]);
      bound.push_back(ctx.reshape(
          ctx.emit("slice", {in}, {{"axis", axes[j]}, {"start", at}, {"end", at + 1}}), shape));
    }
    const std::vector<std::string> outs = inline_body(ctx, body, bound, nodes);
    if (static_cast<int64_t>(outs.size()) != states + scan_outputs) {
      ctx.fail("its body has " + std::to_string(outs.size()) + " outputs for " +
               std::to_string(states + scan_outputs));
    }
    for (int64_t s = 0; s < states; ++s) carried[s] = outs[s];
    for (int64_t k = 0; k < scan_outputs; ++k) scans[k].push_back(outs[states + k]);
  }
  for (int64_t s = 0; s < states; ++s) {
    if (!ctx.output(s).empty()) ctx.identity(carried[s], ctx.output(s));
  }
  for (int64_t k = 0; k < scan_outputs; ++k) {
    const std::string& out = ctx.output(static_cast<std::size_t>(states + k));
    if (!out.empty()) stack(ctx, scans[k], out_axes[k], out_reverse[k] != 0, out);
  }
}

}  // namespace

void add_control_mappers(MapperTable& t) {
  t["If"] = {map_if};
  t["Loop"] = {map_loop};
  t["Scan"] = {map_scan};
}

}  // namespace rtscope::onnx_import
