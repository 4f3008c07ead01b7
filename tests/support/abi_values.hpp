// Values of a graph as the plugin C ABI describes them, for tests that
// call plugin slots directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope::testing {

// A value with static `dims` (min and max equal to them); `name` is not
// copied and must outlive the value.
inline rts_value static_value(const char* name, rts_dtype dtype, const std::vector<int64_t>& dims) {
  rts_value v{};
  v.name = name;
  v.dtype = dtype;
  v.rank = static_cast<uint32_t>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) v.dims[i] = v.min_dims[i] = v.max_dims[i] = dims[i];
  return v;
}

// A graph without nodes whose one output is its one input `x` (which must
// outlive the graph).
inline rts_graph pass_through_graph(const char* name, const rts_value* x) {
  rts_graph graph{};
  graph.struct_size = sizeof(graph);
  graph.name = name;
  graph.inputs = x;
  graph.n_inputs = 1;
  graph.outputs = x;
  graph.n_outputs = 1;
  return graph;
}

// A graph of one two-input node (named after its op) in the ABI's structs,
// which point into this object: keep it alive, and in place, while a
// plugin reads `graph`.
struct TwoInputGraph {
  TwoInputGraph(const char* name, const char* op, rts_value a, rts_value b, rts_value y)
      : values{a, b, y}, input_names{a.name, b.name}, output_name(y.name) {
    node.struct_size = sizeof(node);
    node.name = op;
    node.op = op;
    node.inputs = input_names;
    node.n_inputs = 2;
    node.outputs = &output_name;
    node.n_outputs = 1;
    graph.struct_size = sizeof(graph);
    graph.name = name;
    graph.inputs = values;
    graph.n_inputs = 2;
    graph.outputs = &values[2];
    graph.n_outputs = 1;
    graph.nodes = &node;
    graph.n_nodes = 1;
  }
  TwoInputGraph(const TwoInputGraph&) = delete;
  TwoInputGraph& operator=(const TwoInputGraph&) = delete;

  rts_value values[3];  // inputs, then the output
  const char* input_names[2];
  const char* output_name;
  rts_node node{};
  rts_graph graph{};
};

}  // namespace rtscope::testing
