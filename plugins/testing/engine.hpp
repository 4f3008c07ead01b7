// A validated partition and its execution plan. Immutable once built, so
// any number of contexts may share it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "graph_def.hpp"
#include "kernels.hpp"
#include "plugin_state.hpp"

namespace rtscope_testing {

// Name of the integer attribute that marks a node as having a
// data-dependent output (its output must come from the host's allocator).
inline constexpr const char* kDynamicOutputAttr = "testing_dynamic_output";

// One node, with its tensors resolved to slots. Slots number the engine
// inputs first, then the constants, then every node output.
struct Step {
  Op op = Op::kRelu;
  std::string node;
  std::string kernel_key;  // runtime cache key of its compiled kernel
  std::vector<uint32_t> inputs;
  uint32_t output = 0;
  double factor = 1.0;          // scale only
  int64_t max_count = 0;        // nonzero only: > 0 pads to a static row count
  bool dynamic_output = false;  // output allocated by the host
  int engine_output = -1;       // engine output written in place, or -1
};

class Engine {
 public:
  // Validates `graph` (f32 only, known ops, topological order, every name
  // defined once) and plans it. Fails with a Failure naming the problem.
  Engine(PluginState* plugin, uint32_t device, GraphDef graph);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  PluginState& plugin() const { return *plugin_; }
  uint32_t device() const { return device_; }
  const GraphDef& graph() const { return graph_; }
  void fill_info(rts_engine_info* out) const;

  uint32_t slot_count() const { return slot_count_; }
  uint32_t constant_slot(std::size_t constant) const {
    return static_cast<uint32_t>(graph_.inputs.size() + constant);
  }
  const std::vector<Step>& steps() const { return steps_; }
  // For each engine output: its slot, and whether a step writes it in place
  // (otherwise it is copied from its slot after the steps ran).
  const std::vector<uint32_t>& output_slots() const { return output_slots_; }
  const std::vector<bool>& output_in_place() const { return output_in_place_; }

  // Contexts made from this engine and not yet destroyed; destroying the
  // engine before them is a host bug the plugin reports instead of crashing.
  mutable std::atomic<int64_t> live_contexts{0};

 private:
  void plan();

  PluginState* plugin_;
  uint32_t device_;
  GraphDef graph_;
  std::vector<rts_value> abi_inputs_;
  std::vector<rts_value> abi_outputs_;
  bool needs_output_allocation_ = false;

  uint32_t slot_count_ = 0;
  std::vector<Step> steps_;
  std::vector<uint32_t> output_slots_;
  std::vector<bool> output_in_place_;
};

}  // namespace rtscope_testing
