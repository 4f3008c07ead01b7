#include "abi_graph.hpp"

#include <map>
#include <set>

#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope {
namespace {

// Points an ABI array field and its count at `items`.
template <typename T, typename U>
void set_array(const T*& data, uint32_t& count, const std::vector<U>& items) {
  data = items.data();
  count = static_cast<uint32_t>(items.size());
}

}  // namespace

rts_value to_abi_value(const std::string& name, const ValueType& type, const Graph& graph) {
  rts_value v{};
  v.name = name.c_str();
  v.dtype = static_cast<rts_dtype>(type.dtype);
  if (type.shape.size() > RTS_MAX_RANK) {
    throw InputError("value '" + name + "' has rank " + std::to_string(type.shape.size()) +
                     "; at most " + std::to_string(RTS_MAX_RANK) + " is supported");
  }
  v.rank = static_cast<uint32_t>(type.shape.size());
  for (uint32_t d = 0; d < v.rank; ++d) {
    const Dim& dim = type.shape[d];
    if (dim.is_static()) {
      v.dims[d] = v.min_dims[d] = v.max_dims[d] = dim.value;
      continue;
    }
    v.dims[d] = -1;
    auto it = graph.symbols.find(dim.symbol);
    // A derived symbol without a declared range is only bounded below.
    v.min_dims[d] = it != graph.symbols.end() ? it->second.min : 0;
    v.max_dims[d] = it != graph.symbols.end() ? it->second.max : INT64_MAX;
  }
  return v;
}

AbiNode::AbiNode(const Node& node, const Graph& graph) {
  const OpSchema* schema = find_op(node.op);
  attrs_ = schema ? resolve_attrs(*schema, node.attrs) : node.attrs;
  for (const auto& name : node.inputs) {
    input_names_.push_back(name.c_str());
    input_values_.push_back(to_abi_value(name, graph.type_of(name), graph));
  }
  for (const auto& name : node.outputs) {
    output_names_.push_back(name.c_str());
    output_values_.push_back(to_abi_value(name, graph.type_of(name), graph));
  }
  for (const auto& [name, value] : attrs_) {
    rts_attr a{};
    a.name = name.c_str();  // key storage lives in attrs_
    if (const auto* i = std::get_if<int64_t>(&value)) {
      a.type = RTS_ATTR_INT;
      a.i = *i;
    } else if (const auto* f = std::get_if<double>(&value)) {
      a.type = RTS_ATTR_FLOAT;
      a.f = *f;
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      a.type = RTS_ATTR_STRING;
      a.s = s->c_str();
    } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&value)) {
      a.type = RTS_ATTR_INTS;
      a.ints = ints->data();
      a.n_ints = static_cast<uint32_t>(ints->size());
    }
    abi_attrs_.push_back(a);
  }
  node_.struct_size = sizeof(node_);
  node_.name = node.name.c_str();
  node_.op = node.op.c_str();
  set_array(node_.inputs, node_.n_inputs, input_names_);
  set_array(node_.outputs, node_.n_outputs, output_names_);
  set_array(node_.attrs, node_.n_attrs, abi_attrs_);
}

AbiPartition::AbiPartition(const Graph& graph, const Partition& partition, const std::string& name,
                           bool constants_outlive_engine)
    : name_(name) {
  std::map<std::string, const Weight*> weights;
  for (const auto& w : graph.weights) weights[w.info.name] = &w;

  std::set<std::string> declared;
  std::vector<const Weight*> used_weights;  // in the order the nodes read them
  for (const auto& in : partition.inputs) {
    inputs_.push_back(to_abi_value(in, graph.type_of(in), graph));
    declared.insert(in);
  }
  for (const auto& out : partition.outputs) {
    outputs_.push_back(to_abi_value(out, graph.type_of(out), graph));
  }
  for (std::size_t index : partition.nodes) {
    const Node& node = graph.nodes[index];
    nodes_.emplace_back(node, graph);
    abi_nodes_.push_back(nodes_.back().node());
    for (const auto& in : node.inputs) {
      auto w = weights.find(in);
      if (w == weights.end() || !declared.insert(in).second) continue;
      used_weights.push_back(w->second);
    }
    for (const auto& out : node.outputs) {
      if (declared.insert(out).second)
        values_.push_back(to_abi_value(out, graph.type_of(out), graph));
    }
    // In-place ops whose cache input and result both cross the boundary
    // become engine aliases.
    const OpSchema* schema = find_op(node.op);
    if (schema && schema->aliases_input >= 0 && !node.outputs.empty()) {
      const std::string& aliased = node.inputs[schema->aliases_input];
      for (std::size_t o = 0; o < partition.outputs.size(); ++o) {
        if (partition.outputs[o] != node.outputs[0]) continue;
        for (std::size_t i = 0; i < partition.inputs.size(); ++i) {
          if (partition.inputs[i] == aliased) {
            aliases_.push_back(
                {static_cast<uint32_t>(o), static_cast<uint32_t>(i),
                 node.op == "kv_cache_update" ? RTS_ALIAS_KV_CACHE_UPDATE : RTS_ALIAS_USER});
          }
        }
      }
    }
  }
  // Materialized together: seeded weights share storage (graph.hpp).
  weight_data_ = materialize_weights(used_weights);
  for (std::size_t i = 0; i < used_weights.size(); ++i) {
    rts_constant c{};
    c.value = to_abi_value(used_weights[i]->info.name, used_weights[i]->info.type, graph);
    c.data = weight_data_[i].data();
    c.size_bytes = weight_data_[i].size_bytes();
    constants_.push_back(c);
  }
  graph_.struct_size = sizeof(graph_);
  graph_.name = name_.c_str();
  set_array(graph_.inputs, graph_.n_inputs, inputs_);
  set_array(graph_.outputs, graph_.n_outputs, outputs_);
  set_array(graph_.constants, graph_.n_constants, constants_);
  set_array(graph_.values, graph_.n_values, values_);
  set_array(graph_.nodes, graph_.n_nodes, abi_nodes_);
  set_array(graph_.aliases, graph_.n_aliases, aliases_);
  graph_.constants_outlive_engine = constants_outlive_engine ? 1 : 0;
}

}  // namespace rtscope
