// map_node(): finds the mapper of the node's op type and runs it.
#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

const MapperTable& mappers() {
  static const MapperTable table = [] {
    MapperTable t;
    add_elementwise_mappers(t);
    add_tensor_mappers(t);
    add_nn_mappers(t);
    add_resize_mappers(t);
    add_index_mappers(t);
    add_recurrent_mappers(t);
    add_spectral_mappers(t);
    add_control_mappers(t);
    add_einsum_mappers(t);
    return t;
  }();
  return table;
}

}  // namespace

int64_t axis_in(Context& ctx, int64_t axis, std::size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + r : axis;
}

std::string to_rank(Context& ctx, const std::string& in, std::size_t rank) {
  const ValueType t = ctx.type(in);
  if (t.shape.size() >= rank) return in;
  std::vector<int64_t> shape(rank - t.shape.size(), 1);
  for (const Dim& d : t.shape) shape.push_back(d.is_static() ? d.value : 0);
  if (rank - t.shape.size() > 0 && !ctx.is_static(in)) {
    ctx.unsupported("broadcasting '" + in + "' of dynamic shape " + t.str() + " to rank " +
                    std::to_string(rank));
  }
  return ctx.emit("reshape", {in}, {{"shape", shape}});
}

void require_float(Context& ctx, const std::string& name) {
  const DType d = ctx.dtype(name);
  if (d != DType::f32 && d != DType::f16) {
    ctx.unsupported("input '" + name + "' is " + std::string(to_string(d)) +
                    "; rtscope implements this op for f32 and f16 only");
  }
}

void map_node(Context& ctx) {
  const std::string& op = ctx.node().op_type();
  auto it = mappers().find(op);
  if (it == mappers().end()) ctx.unsupported("op " + op + " has no rtscope mapping");
  if (ctx.opset() < it->second.min_opset) {
    ctx.unsupported("op " + op + " is mapped from opset " + std::to_string(it->second.min_opset));
  }
  it->second.map(ctx);
}

void import_node(Context& ctx, const onnx::NodeProto& node, std::size_t index) {
  ctx.begin_node(node, index);
  const std::string& domain = node.domain();
  if (!domain.empty() && domain != "ai.onnx") {
    ctx.unsupported("domain '" + domain + "' has no rtscope mappings (only ai.onnx)");
  }
  if (!fold_node(ctx)) map_node(ctx);
}

std::vector<std::string> mapped_op_types() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : mappers()) names.push_back(name);
  return names;
}

}  // namespace rtscope::onnx_import
