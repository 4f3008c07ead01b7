// Model: a validated graph partitioned across plugins into Modules, plus the
// host glue that moves tensors between them and keeps state buffers.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtscope/compile_options.hpp"
#include "rtscope/graph.hpp"
#include "rtscope/module.hpp"

namespace rtscope {

class PluginRegistry;

// Where one node went and why.
struct NodePlacement {
  std::string node;
  std::string op;
  std::string plugin;
  std::string reason;
};

struct Partition {
  std::string plugin;
  std::vector<std::size_t> nodes;  // indexes into graph.nodes
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
};

// Assigns each node to the first plugin in `options.backends` that supports
// it; contiguous runs on one plugin form one partition. Throws InputError
// when a node is supported by none (naming it and the plugins asked).
std::vector<Partition> partition_graph(const Graph& graph, PluginRegistry& registry,
                                       const CompileOptions& options,
                                       std::vector<NodePlacement>* placements = nullptr);

// What a model's runs moved between its modules.
struct ModelStats {
  uint64_t runs = 0;
  // Tensors one module produced and a later module read: one per value and
  // reading module per run, with their bytes. With several plugins these
  // are the partition boundaries the executor carries tensors across.
  uint64_t partition_crossings = 0;
  uint64_t crossing_bytes = 0;
  // Bytes copied into device-resident state buffers after runs whose graph
  // does not update them in place (a kv_cache_update does; a plain op's
  // result comes back in host memory and is copied over).
  uint64_t state_upload_bytes = 0;
};

class Model {
 public:
  // Partitions and builds one engine per partition. `graph` must be
  // validated.
  static std::unique_ptr<Model> build(Graph graph, PluginRegistry& registry,
                                      const CompileOptions& options);
  ~Model();

  const Graph& graph() const { return graph_; }
  const std::vector<Partition>& partitions() const { return partitions_; }
  const std::vector<NodePlacement>& placements() const { return placements_; }
  std::vector<Module*> modules() const;

  // Runs every module in order. Returns the graph outputs by name. State
  // buffers persist between runs. Thread-compatible (one run at a time).
  // Throws InputError for a missing or unknown input name.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs);

  // The same by position, for a caller that runs the model step after step:
  // `inputs` in graph().inputs order, `outputs` one slot per
  // graph().outputs entry (overwritten). Names were resolved when the model
  // was built, so a step builds no map. Each input is checked once, against
  // the binding of the first module that reads it; modules reached from here
  // check nothing again. Throws InputError naming the model or the module
  // and binding.
  // An output slot that holds a tensor on output_device() of that output
  // is written in place and stays on the device (a decode step's logits
  // that only the device reads) when it holds the output's bytes. Every
  // other slot is replaced by a new tensor, so results of an earlier step
  // are never written into.
  void run_into(std::span<const Tensor> inputs, std::span<Tensor> outputs);
  // Positions for run_into. Throw InputError listing the valid names.
  std::size_t input_index(std::string_view name) const;
  std::size_t output_index(std::string_view name) const;
  // Memory of the device that computes graph output `index` (by position),
  // or null when a host-memory plugin computes it or the output is a graph
  // input or state passed through. Throws InputError for an index past
  // the outputs.
  std::shared_ptr<const DeviceMemory> output_device(std::size_t index) const;

  // Thread-safe (may be read while a run is in flight).
  const CompileOptions& compile_options() const { return compile_options_; }

  ModelStats stats() const;

  // Zeroes every state buffer without reallocating it.
  void reset_state();
  // State buffers (KV caches). Each lives on the device of the modules that
  // read it when they share one device whose plugin offers device memory,
  // else on the host; Tensor::to_host() or to_doubles() reads either.
  const std::map<std::string, Tensor>& state() const { return state_; }

  // Uses `storage` (shared, not copied) as state buffer `name` from now on:
  // runs update it in place. It may live on the host or on any device; a
  // module on another device stages it (Module::stats().staged_bytes). Throws InputError naming the
  // buffer when the name is unknown or the dtype or shape differs from the graph's.
  void bind_state(const std::string& name, const Tensor& storage);
  // Binds every state buffer of this model to the buffer of the same name
  // in `other` (e.g. a decode model continuing what a prefill model
  // started). Throws InputError when a buffer is missing or differs.
  void share_state(const Model& other);

 private:
  Model() = default;
  Graph graph_;
  std::vector<Partition> partitions_;
  std::vector<NodePlacement> placements_;
  std::vector<std::unique_ptr<Module>> modules_;
  std::map<std::string, Tensor> state_;
  std::shared_ptr<const DeviceMemory> state_device(const std::string& name) const;
  void resolve_slots();

  // Where a value of one step lives, resolved from its name at build time.
  struct Slot {
    enum class Kind : uint8_t { input, state, output } kind = Kind::input;
    uint32_t index = 0;      // graph input, state buffer, or output of `partition`
    uint32_t partition = 0;  // Kind::output only
  };
  struct Step {
    std::vector<Slot> inputs;          // one per module input
    std::vector<bool> crosses;         // per input: an earlier module produced it
    std::vector<bool> aliased;         // per output: bound to an input's storage
    std::vector<const Tensor*> bound;  // per input, filled each step
    std::vector<Tensor> outputs;       // per output, the step's results
  };
  const Tensor& at(const Slot& slot, std::span<const Tensor> inputs) const;
  bool writes_in_place(std::size_t output, const Tensor& given) const;
  std::vector<Step> steps_;           // one per module
  std::vector<Tensor*> state_slots_;  // state_ entries, in graph.states order
  std::vector<Slot> state_updates_;   // per graph.states entry
  std::vector<Slot> output_slots_;    // per graph.outputs entry
  std::vector<bool> output_moves_;    // the step's result can be moved out
  // Per graph input: the module and binding that checks it (module -1: none reads it).
  std::vector<std::pair<int, uint32_t>> input_checks_;

  CompileOptions compile_options_;

  std::atomic<uint64_t> runs_{0};
  std::atomic<uint64_t> partition_crossings_{0};
  std::atomic<uint64_t> crossing_bytes_{0};
  std::atomic<uint64_t> state_upload_bytes_{0};
};

}  // namespace rtscope
