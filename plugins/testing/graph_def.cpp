#include "graph_def.hpp"

#include "failure.hpp"

namespace rtscope_testing {
namespace {

std::string copy_name(const char* name, const std::string& what) {
  if (!name) fail(RTS_ERROR_INVALID_ARGUMENT, what + " has a NULL name");
  return name;
}

// A NULL array is only acceptable when it is empty.
template <typename T>
void check_array(const T* items, uint32_t count, const std::string& what) {
  if (count > 0 && !items) {
    fail(RTS_ERROR_INVALID_ARGUMENT, what + " is NULL but its count is " + std::to_string(count));
  }
}

AttrDef copy_attr(const rts_attr& attr, const std::string& node) {
  AttrDef def;
  def.name = copy_name(attr.name, "an attribute of node '" + node + "'");
  def.type = attr.type;
  switch (attr.type) {
    case RTS_ATTR_INT:
      def.i = attr.i;
      break;
    case RTS_ATTR_FLOAT:
      def.f = attr.f;
      break;
    case RTS_ATTR_STRING:
      def.s = attr.s ? attr.s : "";
      break;
    case RTS_ATTR_INTS:
      check_array(attr.ints, attr.n_ints, "attribute '" + def.name + "' of node '" + node + "'");
      def.ints.assign(attr.ints, attr.ints + attr.n_ints);
      break;
    default:
      fail(RTS_ERROR_INVALID_ARGUMENT, "attribute '" + def.name + "' of node '" + node +
                                           "' has unknown type " +
                                           std::to_string(static_cast<int>(attr.type)));
  }
  return def;
}

NodeDef copy_node(const rts_node& node) {
  if (!RTS_HAS_FIELD(&node, rts_node, n_attrs)) {
    fail(RTS_ERROR_INVALID_ARGUMENT,
         "rts_node struct_size " + std::to_string(node.struct_size) + " is too small");
  }
  NodeDef def;
  def.name = copy_name(node.name, "a node");
  def.op = copy_name(node.op, "the op of node '" + def.name + "'");
  check_array(node.inputs, node.n_inputs, "inputs of node '" + def.name + "'");
  check_array(node.outputs, node.n_outputs, "outputs of node '" + def.name + "'");
  check_array(node.attrs, node.n_attrs, "attributes of node '" + def.name + "'");
  for (uint32_t i = 0; i < node.n_inputs; ++i) {
    def.inputs.push_back(copy_name(node.inputs[i], "an input of node '" + def.name + "'"));
  }
  for (uint32_t i = 0; i < node.n_outputs; ++i) {
    def.outputs.push_back(copy_name(node.outputs[i], "an output of node '" + def.name + "'"));
  }
  for (uint32_t i = 0; i < node.n_attrs; ++i)
    def.attrs.push_back(copy_attr(node.attrs[i], def.name));
  return def;
}

std::vector<ValueDef> copy_values(const rts_value* values, uint32_t count,
                                  const std::string& what) {
  check_array(values, count, what);
  std::vector<ValueDef> defs;
  defs.reserve(count);
  for (uint32_t i = 0; i < count; ++i) defs.push_back(copy_value(values[i]));
  return defs;
}

}  // namespace

ValueDef copy_value(const rts_value& value) {
  ValueDef def;
  def.name = copy_name(value.name, "a value");
  if (value.rank > RTS_MAX_RANK) {
    fail(RTS_ERROR_INVALID_ARGUMENT,
         "value '" + def.name + "' has rank " + std::to_string(value.rank) + " above RTS_MAX_RANK");
  }
  if (static_cast<uint32_t>(value.dtype) > RTS_DTYPE_BOOL) {
    fail(RTS_ERROR_INVALID_ARGUMENT, "value '" + def.name + "' has unknown dtype " +
                                         std::to_string(static_cast<uint32_t>(value.dtype)));
  }
  def.dtype = value.dtype;
  def.rank = value.rank;
  for (uint32_t d = 0; d < value.rank; ++d) {
    def.dims[d] = value.dims[d];
    def.min_dims[d] = value.min_dims[d];
    def.max_dims[d] = value.max_dims[d];
  }
  return def;
}

GraphDef copy_graph(const rts_graph& graph) {
  if (!RTS_HAS_FIELD(&graph, rts_graph, n_aliases)) {
    fail(RTS_ERROR_INVALID_ARGUMENT,
         "rts_graph struct_size " + std::to_string(graph.struct_size) + " is too small");
  }
  GraphDef def;
  def.name = graph.name ? graph.name : "";
  def.inputs = copy_values(graph.inputs, graph.n_inputs, "graph inputs");
  def.outputs = copy_values(graph.outputs, graph.n_outputs, "graph outputs");
  def.values = copy_values(graph.values, graph.n_values, "graph values");
  check_array(graph.constants, graph.n_constants, "graph constants");
  for (uint32_t i = 0; i < graph.n_constants; ++i) {
    const rts_constant& c = graph.constants[i];
    ConstantDef constant;
    constant.value = copy_value(c.value);
    check_array(static_cast<const uint8_t*>(c.data), c.size_bytes > 0 ? 1 : 0,
                "data of constant '" + constant.value.name + "'");
    const auto* bytes = static_cast<const uint8_t*>(c.data);
    constant.bytes.assign(bytes, bytes + c.size_bytes);
    def.constants.push_back(std::move(constant));
  }
  check_array(graph.nodes, graph.n_nodes, "graph nodes");
  for (uint32_t i = 0; i < graph.n_nodes; ++i) def.nodes.push_back(copy_node(graph.nodes[i]));
  if (graph.n_aliases > 0) {
    fail(RTS_ERROR_UNSUPPORTED, "graph '" + def.name +
                                    "' declares aliased outputs; the testing plugin runs no "
                                    "in-place ops");
  }
  return def;
}

rts_value to_abi(const ValueDef& value) {
  rts_value v{};
  v.name = value.name.c_str();
  v.dtype = value.dtype;
  v.rank = value.rank;
  for (uint32_t d = 0; d < value.rank; ++d) {
    v.dims[d] = value.dims[d];
    v.min_dims[d] = value.min_dims[d];
    v.max_dims[d] = value.max_dims[d];
  }
  return v;
}

std::string dtype_name(rts_dtype dtype) {
  switch (dtype) {
    case RTS_DTYPE_F32:
      return "f32";
    case RTS_DTYPE_F16:
      return "f16";
    case RTS_DTYPE_I32:
      return "i32";
    case RTS_DTYPE_I64:
      return "i64";
    case RTS_DTYPE_BOOL:
      return "bool";
  }
  return "dtype " + std::to_string(static_cast<int>(dtype));
}

}  // namespace rtscope_testing
