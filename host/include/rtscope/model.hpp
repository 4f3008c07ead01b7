// Model: a validated graph partitioned across plugins into Modules, plus the
// host glue that moves tensors between them and keeps state buffers.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/module.hpp"

namespace rtscope {

class PluginRegistry;

struct CompileOptions {
  std::vector<std::string> backends;  // plugin ids in priority order
  bool fallback_data_dependent_ops = false;
  bool require_full_compilation = false;
};

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
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs);

  // Zeroes every state buffer without reallocating it.
  void reset_state();
  const std::map<std::string, Tensor>& state() const { return state_; }

  // Uses `storage` (shared, not copied) as state buffer `name` from now on:
  // runs update it in place. Throws InputError naming the buffer when the
  // name is unknown or the dtype or shape differs from the graph's.
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
};

}  // namespace rtscope
