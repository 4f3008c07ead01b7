// The graph of an engine resolved into value ids: every value with its
// role (input, constant, intermediate), the node producing it and its
// declared type; every node with the ids it reads and writes; engine
// outputs and the aliases between outputs and inputs. Built once from the
// GraphDesc the host handed over, after which it is immutable.
//
// Backends extend the value and node records (Value derives from
// ResolvedValue, Node from ResolvedNode) and say what an op is through a
// typer, an object with
//   void bind(Node& node);  // looks up node.desc->op; throws when unsupported
//   rts_dtype type(Node& node, std::span<const rts_dtype> input_dtypes);
//       // checks dtypes and attributes, fills the backend's fields and
//       // returns the dtype of the node's output
// Errors name the graph, node and value involved.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rtscope/kit/error.hpp"
#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

enum class ValueRole : uint8_t { kInput, kConstant, kIntermediate };

struct ResolvedValue {
  std::string name;
  rts_dtype dtype = RTS_DTYPE_F32;
  // The declared type, or nullptr when the graph left the value undeclared
  // (its dtype then comes from the producing op).
  const ValueDesc* declared = nullptr;
  ValueRole role = ValueRole::kIntermediate;
  uint32_t role_index = 0;  // engine input index or constant index
  int producer = -1;        // node index; -1 for inputs and constants
};

struct ResolvedNode {
  const NodeDesc* desc = nullptr;
  std::vector<uint32_t> inputs;  // value ids
  std::vector<uint32_t> outputs;
};

// The ABI view of a declared value; `name` points into `desc`.
rts_value to_rts_value(const ValueDesc& desc);
// Throws unless concrete `dims` of input `declared` match its declaration
// (rank, fixed dims, min/max range).
void check_input_dims(const ValueDesc& declared, std::span<const int64_t> dims);
inline void check_input_dims(const ValueDesc& declared, const Dims& dims) {
  check_input_dims(declared, std::span<const int64_t>(dims));
}
// Throws unless `dims`, inferred for output `value` of `node`, fit RTS_MAX_RANK
// and the value's declared type.
void check_inferred_dims(const NodeDesc& node, const ResolvedValue& value, const Dims& dims);
// The dims of every input when all of them are static: then every shape of
// the engine is known at build.
std::optional<std::vector<Dims>> static_input_dims(const GraphDesc& graph);

template <typename Value = ResolvedValue, typename Node = ResolvedNode>
class ResolvedGraph {
 public:
  template <typename Typer>
  ResolvedGraph(GraphDesc graph, Typer&& typer) : graph_(std::move(graph)) {
    index_values();
    resolve_nodes(typer);
    resolve_outputs();
    resolve_aliases();
    for (const ValueDesc& input : graph_.inputs) info_inputs_.push_back(to_rts_value(input));
    for (const ValueDesc& output : graph_.outputs) info_outputs_.push_back(to_rts_value(output));
  }
  // info_* point into graph_.
  ResolvedGraph(const ResolvedGraph&) = delete;
  ResolvedGraph& operator=(const ResolvedGraph&) = delete;

  const GraphDesc& graph() const { return graph_; }
  const std::vector<Value>& values() const { return values_; }
  std::vector<Value>& values() { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  // Value id of each engine input / output, in binding order.
  const std::vector<uint32_t>& input_values() const { return input_values_; }
  const std::vector<uint32_t>& output_values() const { return output_values_; }
  const std::vector<rts_alias>& aliases() const { return aliases_; }
  // -1 when no value has that name.
  int find_value(const std::string& name) const {
    const auto found = value_ids_.find(name);
    return found == value_ids_.end() ? -1 : static_cast<int>(found->second);
  }

  // Inputs, outputs and aliases; needs_output_allocation is the backend's.
  void fill_info(rts_engine_info& info) const {
    info.inputs = info_inputs_.data();
    info.n_inputs = static_cast<uint32_t>(info_inputs_.size());
    info.outputs = info_outputs_.data();
    info.n_outputs = static_cast<uint32_t>(info_outputs_.size());
    info.aliases = aliases_.data();
    info.n_aliases = static_cast<uint32_t>(aliases_.size());
  }

 private:
  uint32_t add_value(const std::string& name, rts_dtype dtype, const ValueDesc* declared,
                     ValueRole role, uint32_t role_index) {
    const uint32_t id = static_cast<uint32_t>(values_.size());
    if (!value_ids_.emplace(name, id).second) {
      fail_invalid("graph '", graph_.name, "': value '", name, "' is declared twice");
    }
    Value value;
    value.name = name;
    value.dtype = dtype;
    value.declared = declared;
    value.role = role;
    value.role_index = role_index;
    values_.push_back(std::move(value));
    return id;
  }

  void index_values() {
    for (uint32_t i = 0; i < graph_.inputs.size(); ++i) {
      const ValueDesc& input = graph_.inputs[i];
      input_values_.push_back(add_value(input.name, input.dtype, &input, ValueRole::kInput, i));
    }
    for (uint32_t i = 0; i < graph_.constants.size(); ++i) {
      const ValueDesc& constant = graph_.constants[i].value;
      add_value(constant.name, constant.dtype, &constant, ValueRole::kConstant, i);
    }
    for (const ValueDesc& value : graph_.values) {
      // Tolerate a graph that also lists an input or constant among values.
      const int id = find_value(value.name);
      if (id >= 0 && values_[id].role != ValueRole::kIntermediate &&
          values_[id].dtype == value.dtype) {
        continue;
      }
      add_value(value.name, value.dtype, &value, ValueRole::kIntermediate, 0);
    }
    // Outputs produced by nodes may be declared only in `outputs`.
    for (const ValueDesc& output : graph_.outputs) {
      const int id = find_value(output.name);
      if (id < 0) {
        add_value(output.name, output.dtype, &output, ValueRole::kIntermediate, 0);
      } else if (values_[id].dtype != output.dtype) {
        fail_invalid("graph '", graph_.name, "': output '", output.name, "' is declared ",
                     output.type_str(), " but also as ", values_[id].declared->type_str());
      }
    }
  }

  template <typename Typer>
  void resolve_nodes(Typer& typer) {
    nodes_.reserve(graph_.nodes.size());
    std::vector<rts_dtype> input_dtypes;
    for (size_t index = 0; index < graph_.nodes.size(); ++index) {
      const NodeDesc& desc = graph_.nodes[index];
      Node node;
      node.desc = &desc;
      typer.bind(node);
      input_dtypes.clear();
      for (const std::string& name : desc.inputs) {
        const int id = find_value(name);
        if (id < 0) fail_invalid(desc.label(), ": input '", name, "' is not declared in the graph");
        const Value& value = values_[id];
        if (value.role == ValueRole::kIntermediate && value.producer < 0) {
          fail_invalid(desc.label(), ": input '", name,
                       "' is not produced by an earlier node (nodes must be in topological order)");
        }
        node.inputs.push_back(static_cast<uint32_t>(id));
        input_dtypes.push_back(value.dtype);
      }
      const rts_dtype produced = typer.type(node, std::span<const rts_dtype>(input_dtypes));
      if (desc.outputs.size() != 1) {
        fail_invalid(desc.label(), ": expects 1 output, got ", desc.outputs.size());
      }
      for (const std::string& name : desc.outputs) {
        int id = find_value(name);
        if (id < 0) {
          id = static_cast<int>(add_value(name, produced, nullptr, ValueRole::kIntermediate, 0));
        }
        Value& value = values_[id];
        if (value.role != ValueRole::kIntermediate) {
          fail_invalid(desc.label(), ": output '", name, "' is an engine input or constant");
        }
        if (value.producer >= 0) {
          fail_invalid(desc.label(), ": output '", name, "' is already produced by node '",
                       graph_.nodes[value.producer].name, "'");
        }
        if (value.dtype != produced) {
          fail_invalid(desc.label(), ": output '", name, "' is declared ", dtype_name(value.dtype),
                       " but the op produces ", dtype_name(produced));
        }
        value.producer = static_cast<int>(index);
        node.outputs.push_back(static_cast<uint32_t>(id));
      }
      nodes_.push_back(std::move(node));
    }
  }

  void resolve_outputs() {
    for (const ValueDesc& output : graph_.outputs) {
      const uint32_t id = value_ids_.at(output.name);
      const Value& value = values_[id];
      if (value.role == ValueRole::kIntermediate && value.producer < 0) {
        fail_invalid("graph '", graph_.name, "': output '", output.name,
                     "' is not produced by any node");
      }
      output_values_.push_back(id);
    }
  }

  void resolve_aliases() {
    auto add_alias = [this](const rts_alias& alias) {
      for (const rts_alias& existing : aliases_) {
        if (existing.output != alias.output) continue;
        if (existing.input == alias.input) return;  // already known
        fail_invalid("graph '", graph_.name, "': output ", alias.output, " ('",
                     graph_.outputs[alias.output].name, "') aliases both input ", existing.input,
                     " and input ", alias.input);
      }
      aliases_.push_back(alias);
    };
    // A kv_cache_update whose cache is an engine input updates that input's
    // storage in place when the host binds the output onto it.
    for (uint32_t output = 0; output < output_values_.size(); ++output) {
      const Value& value = values_[output_values_[output]];
      if (value.producer < 0) continue;
      const Node& node = nodes_[value.producer];
      if (node.desc->op != "kv_cache_update") continue;
      const Value& cache = values_[node.inputs[0]];
      if (cache.role != ValueRole::kInput) continue;
      add_alias({output, cache.role_index, RTS_ALIAS_KV_CACHE_UPDATE});
    }
    for (const rts_alias& alias : graph_.aliases) {
      if (alias.output >= graph_.outputs.size() || alias.input >= graph_.inputs.size()) {
        fail_invalid("graph '", graph_.name, "': alias output ", alias.output, " -> input ",
                     alias.input, " is out of range (", graph_.outputs.size(), " outputs, ",
                     graph_.inputs.size(), " inputs)");
      }
      const ValueDesc& output = graph_.outputs[alias.output];
      const ValueDesc& input = graph_.inputs[alias.input];
      if (output.dtype != input.dtype || output.dims.size() != input.dims.size()) {
        fail_invalid("graph '", graph_.name, "': alias output '", output.name, "' ",
                     output.type_str(), " cannot share storage with input '", input.name, "' ",
                     input.type_str());
      }
      add_alias(alias);
    }
  }

  GraphDesc graph_;
  std::vector<Value> values_;
  std::unordered_map<std::string, uint32_t> value_ids_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> input_values_;
  std::vector<uint32_t> output_values_;
  std::vector<rts_alias> aliases_;
  std::vector<rts_value> info_inputs_;
  std::vector<rts_value> info_outputs_;
};

}  // namespace rtscope::kit
