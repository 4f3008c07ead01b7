// An engine: a validated copy of one partition, resolved into value ids,
// op specs and shader variants, with its constants (weights) uploaded to
// device-local memory once, at build. Immutable after construction, so any
// number of contexts and threads may share it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "allocator.hpp"
#include "graph_desc.hpp"
#include "op_spec.hpp"
#include "rtscope/plugin_abi.h"
#include "segments.hpp"

namespace rtscope::vulkan {

class Device;
class VulkanPlugin;

enum class ValueRole : uint8_t { kInput, kConstant, kIntermediate };

struct EngineValue {
  std::string name;
  rts_dtype dtype = RTS_DTYPE_F32;         // as the graph declares it
  rts_dtype device_dtype = RTS_DTYPE_F32;  // as the device stores it
  // The declared type, or nullptr when the graph left the value undeclared
  // (its dtype then comes from the producing op).
  const ValueDesc* declared = nullptr;
  ValueRole role = ValueRole::kIntermediate;
  uint32_t role_index = 0;  // engine input index or constant index
  int producer = -1;        // node index; -1 for inputs and constants
  // A constant stored transposed on the device (transpose_linear_weights).
  bool transposed = false;
};

struct EngineNode {
  const NodeDesc* desc = nullptr;
  const OpSpec* spec = nullptr;
  std::vector<uint32_t> inputs;  // value ids
  std::vector<uint32_t> outputs;
  // Variants the node may run, e.g. {"matmul_f16", "matvec_f16"}; empty:
  // nothing runs (a view).
  std::vector<std::string> shaders;
};

class Engine {
 public:
  // Validates `graph` (op support on the device, names, topological order,
  // dtypes, aliases, and shapes when every input is static), then opens
  // the device and uploads the constants. Throws Error naming the node,
  // value and types involved.
  Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph);
  // A piece of a segmented engine (segments.hpp): runs as one plan even
  // when it ends with a data-dependent node.
  struct AsSegment {};
  static constexpr AsSegment kSegment{};
  Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, AsSegment);
  ~Engine();

  // Re-creates an engine from a blob written by serialize().
  static std::unique_ptr<Engine> deserialize(VulkanPlugin& plugin, uint32_t device,
                                             const void* data, uint64_t size);
  // Writes the blob: magic, format version, plugin version, the graph.
  void serialize(const rts_blob_sink& sink) const;

  VulkanPlugin& plugin() const { return plugin_; }
  Device& device() const { return *device_; }
  const GraphDesc& graph() const { return graph_; }
  const std::vector<EngineValue>& values() const { return values_; }
  const std::vector<EngineNode>& nodes() const { return nodes_; }
  // Value id of each engine input / output, in binding order.
  const std::vector<uint32_t>& input_values() const { return input_values_; }
  const std::vector<uint32_t>& output_values() const { return output_values_; }
  const std::vector<rts_alias>& aliases() const { return aliases_; }
  // The shader variants the nodes run, each once: what a context creates
  // pipelines for.
  const std::vector<std::string>& shader_variants() const { return shader_variants_; }
  // Device range of constant `index`.
  BufferRegion constant_region(uint32_t index) const { return constants_[index].region(); }

  // Dims of every value for concrete input dims (one per engine input);
  // checks them against the declarations. Throws Error naming the node.
  std::vector<Dims> infer_shapes(std::span<const Dims> input_dims) const;

  void fill_info(rts_engine_info& info) const;

  // Non-empty when the graph has data-dependent nodes: the engine then runs
  // as these segments, in order (segments.hpp), and has no constants or
  // pipelines of its own.
  const std::vector<Segment>& segments() const { return segments_; }

  // True exactly once: for the first execute of any of the engine's
  // contexts that stages host memory (which then says so in the log).
  bool first_staging() const { return !staging_reported_.exchange(true); }

 private:
  Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, bool segment);
  void split_into_segments();
  void index_values();
  void resolve_nodes();
  void resolve_outputs();
  void resolve_aliases();
  // Stores rank-2 constants that only `linear` nodes read as their weight
  // as [N, K] on devices with subgroup arithmetic, and gives those nodes
  // the matvec_t shader: a decode step then reads each output column's
  // weights contiguously. Prefill rows run the tiled shader with
  // transpose_b. Skipped where K does not fill 16-byte vectors.
  void transpose_linear_weights();
  void collect_shader_variants();
  void upload_constants();
  uint32_t add_value(const std::string& name, rts_dtype dtype, const ValueDesc* declared,
                     ValueRole role, uint32_t role_index);
  int find_value(const std::string& name) const;

  VulkanPlugin& plugin_;
  uint32_t device_index_;
  const DeviceCaps& caps_;
  Device* device_ = nullptr;
  GraphDesc graph_;
  std::vector<EngineValue> values_;
  std::unordered_map<std::string, uint32_t> value_ids_;
  std::vector<EngineNode> nodes_;
  std::vector<uint32_t> input_values_;
  std::vector<uint32_t> output_values_;
  std::vector<rts_alias> aliases_;
  std::vector<std::string> shader_variants_;
  std::vector<Allocation> constants_;
  // engine_info arrays; names point into graph_.
  std::vector<rts_value> info_inputs_;
  std::vector<rts_value> info_outputs_;
  std::vector<Segment> segments_;
  mutable std::atomic<bool> staging_reported_{false};
};

}  // namespace rtscope::vulkan
