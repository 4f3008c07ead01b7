// Views of host IR as the C structs of the plugin ABI. Each view owns the
// arrays its structs point into, and points into the Graph it was made from,
// so the Graph must outlive the view.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope {

// An rts_value for `type`; symbolic dims become -1 bounded by the symbol's
// range. `name` must outlive the result.
rts_value to_abi_value(const std::string& name, const ValueType& type, const Graph& graph);

// One node with its input/output declarations, attributes with defaults
// filled in.
class AbiNode {
 public:
  AbiNode(const Node& node, const Graph& graph);
  AbiNode(const AbiNode&) = delete;
  AbiNode& operator=(const AbiNode&) = delete;

  const rts_node& node() const { return node_; }
  const rts_value* inputs() const { return input_values_.data(); }
  const rts_value* outputs() const { return output_values_.data(); }

 private:
  AttrMap attrs_;
  std::vector<std::string> attr_names_;
  std::vector<const char*> input_names_;
  std::vector<const char*> output_names_;
  std::vector<rts_attr> abi_attrs_;
  std::vector<rts_value> input_values_;
  std::vector<rts_value> output_values_;
  rts_node node_{};
};

// One partition as an rts_graph, weights materialized as constants.
// With `constants_outlive_engine` the graph tells the plugin that it may
// keep pointers into the constants; the caller then keeps constants()
// alive until the engine is destroyed (Engine::build does).
class AbiPartition {
 public:
  AbiPartition(const Graph& graph, const Partition& partition, const std::string& name,
               bool constants_outlive_engine = false);
  AbiPartition(const AbiPartition&) = delete;
  AbiPartition& operator=(const AbiPartition&) = delete;

  const rts_graph& graph() const { return graph_; }
  // The constants' storage (shared, not copied): mapped files or host
  // tensors the rts_graph points into.
  const std::vector<Tensor>& constants() const { return weight_data_; }

 private:
  std::string name_;
  std::deque<AbiNode> nodes_;
  std::vector<rts_node> abi_nodes_;
  std::vector<rts_value> inputs_;
  std::vector<rts_value> outputs_;
  std::vector<rts_value> values_;
  std::vector<Tensor> weight_data_;
  std::vector<rts_constant> constants_;
  std::vector<rts_alias> aliases_;
  rts_graph graph_{};
};

}  // namespace rtscope
