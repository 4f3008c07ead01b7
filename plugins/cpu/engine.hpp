// An engine: a validated copy of one partition, resolved into value ids and
// op specs. Immutable after construction, so any number of contexts and
// threads may share it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aligned_buffer.hpp"
#include "graph_desc.hpp"
#include "kernels/op_spec.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class CpuPlugin;

enum class ValueRole : uint8_t { kInput, kConstant, kIntermediate };

struct EngineValue {
  std::string name;
  rts_dtype dtype = RTS_DTYPE_F32;
  // The declared type, or nullptr when the graph left the value undeclared
  // (its dtype then comes from the producing op).
  const ValueDesc* declared = nullptr;
  ValueRole role = ValueRole::kIntermediate;
  uint32_t role_index = 0;  // engine input index or constant index
  int producer = -1;        // node index; -1 for inputs and constants
};

struct EngineNode {
  const NodeDesc* desc = nullptr;
  const OpSpec* spec = nullptr;
  std::vector<uint32_t> inputs;  // value ids
  std::vector<uint32_t> outputs;
  rts_dtype float_dtype = RTS_DTYPE_F32;  // f16 here: the context converts around the kernel
  bool computes_f16_in_f32() const {
    return float_dtype == RTS_DTYPE_F16 && spec->f16_mode == F16Mode::kComputeInF32;
  }
};

class Engine {
 public:
  // Validates `graph` (op support, names, topological order, dtypes,
  // aliases, and shapes when every input is static); throws Error naming
  // the node, value and types involved.
  Engine(CpuPlugin& plugin, GraphDesc graph);

  // Re-creates an engine from a blob written by serialize().
  static std::unique_ptr<Engine> deserialize(CpuPlugin& plugin, const void* data, uint64_t size);
  // Writes the blob: magic, format version, plugin version, the graph.
  void serialize(const rts_blob_sink& sink) const;

  CpuPlugin& plugin() const { return plugin_; }
  const GraphDesc& graph() const { return graph_; }
  const std::vector<EngineValue>& values() const { return values_; }
  const std::vector<EngineNode>& nodes() const { return nodes_; }
  // Value id of each engine input / output, in binding order.
  const std::vector<uint32_t>& input_values() const { return input_values_; }
  const std::vector<uint32_t>& output_values() const { return output_values_; }
  const std::vector<rts_alias>& aliases() const { return aliases_; }
  // Index of the first node whose output size depends on input values
  // (nonzero without max_count, masked_select); nodes().size() when none.
  // From it on, shapes are resolved on every execute.
  size_t first_data_dependent_node() const { return first_data_dependent_node_; }
  bool has_data_dependent_nodes() const { return first_data_dependent_node_ < nodes_.size(); }

  const void* constant_data(uint32_t constant) const;
  // The f32 copy of an f16 constant read by f32-computing kernels, made
  // once here instead of on every execute; nullptr when there is none.
  const float* constant_as_f32(uint32_t constant) const;

  void fill_info(rts_engine_info& info) const;

 private:
  void index_values();
  void resolve_nodes();
  void resolve_outputs();
  void resolve_aliases();
  void convert_f16_constants();
  uint32_t add_value(const std::string& name, rts_dtype dtype, const ValueDesc* declared,
                     ValueRole role, uint32_t role_index);
  int find_value(const std::string& name) const;

  CpuPlugin& plugin_;
  GraphDesc graph_;
  std::vector<EngineValue> values_;
  std::unordered_map<std::string, uint32_t> value_ids_;
  std::vector<EngineNode> nodes_;
  std::vector<uint32_t> input_values_;
  std::vector<uint32_t> output_values_;
  std::vector<rts_alias> aliases_;
  size_t first_data_dependent_node_ = 0;
  std::vector<AlignedBuffer> constants_f32_;  // empty buffer: no f32 copy
  // engine_info arrays; names point into graph_.
  std::vector<rts_value> info_inputs_;
  std::vector<rts_value> info_outputs_;
};

}  // namespace rtscope::cpu
