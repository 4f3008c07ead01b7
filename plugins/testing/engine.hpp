// A validated partition and its execution plan: the kit's resolved graph
// with each node's testing op. Immutable once built, so any number of
// contexts may share it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels.hpp"
#include "plugin.hpp"
#include "rtscope/kit/resolved_graph.hpp"

namespace rtscope_testing {

// Name of the integer attribute that marks a node as having a
// data-dependent output (its output must come from the host's allocator).
inline constexpr const char* kDynamicOutputAttr = "testing_dynamic_output";

// One node with its op and what the context needs to run it.
struct Step : kit::ResolvedNode {
  Op op = Op::kRelu;
  std::string kernel_key;       // runtime cache key of its compiled kernel
  double factor = 1.0;          // scale only
  int64_t max_count = 0;        // nonzero only: > 0 pads to a static row count
  bool dynamic_output = false;  // output allocated by the host
  int engine_output = -1;       // engine output written in place, or -1
};

class Engine : public kit::Engine, public kit::ResolvedGraph<kit::ResolvedValue, Step> {
 public:
  // Validates `graph` (f32 only, known ops, topological order, every name
  // defined once) and plans it; throws kit::Error naming the problem.
  Engine(TestingPlugin& plugin, kit::GraphDesc graph);
  ~Engine() override;

  TestingPlugin& plugin() const { return plugin_; }
  const kit::GraphDesc& graph() const override { return ResolvedGraph::graph(); }
  void fill_info(rts_engine_info& info) const override;
  std::unique_ptr<kit::Context> create_context(const rts_runtime_settings* settings) const override;
  // Refuses every settings value when the configuration says so.
  void validate_settings(const rts_runtime_settings* settings) const override;

  // For each engine output: whether a step writes it in place (otherwise it
  // is copied from its value after the steps ran).
  const std::vector<bool>& output_in_place() const { return output_in_place_; }

 private:
  TestingPlugin& plugin_;
  bool needs_output_allocation_ = false;
  std::vector<bool> output_in_place_;
};

}  // namespace rtscope_testing
