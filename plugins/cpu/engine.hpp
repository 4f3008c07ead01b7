// An engine: a validated copy of one partition, resolved into value ids and
// op specs. Immutable after construction, so any number of contexts and
// threads may share it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aligned_buffer.hpp"
#include "kernels/op_spec.hpp"
#include "kit_names.hpp"
#include "rtscope/kit/backend.hpp"
#include "rtscope/kit/resolved_graph.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class CpuPlugin;

using kit::ValueRole;
using EngineValue = kit::ResolvedValue;

struct FreeDeleter {
  void operator()(void* memory) const { std::free(memory); }
};

// Bytes of the engine's constants by where they live.
struct ConstantBytes {
  uint64_t borrowed = 0;   // the host's memory, read in place
  uint64_t copied = 0;     // copied at build (the host did not lend them)
  uint64_t converted = 0;  // f32 copies of f16 constants for f32 kernels
};

struct EngineNode : kit::ResolvedNode {
  const OpSpec* spec = nullptr;
  rts_dtype float_dtype = RTS_DTYPE_F32;  // f16 here: the context converts around the kernel
  bool computes_f16_in_f32() const {
    return float_dtype == RTS_DTYPE_F16 && spec->f16_mode == F16Mode::kComputeInF32;
  }
};

// The engine is its resolved graph (values(), nodes(), input_values(),
// output_values(), aliases(), find_value()) plus what the device adds.
class Engine : public kit::Engine, public kit::ResolvedGraph<EngineValue, EngineNode> {
 public:
  // Validates `graph` (op support, names, topological order, dtypes,
  // aliases, and shapes when every input is static); throws Error naming
  // the node, value and types involved.
  Engine(CpuPlugin& plugin, GraphDesc graph);

  CpuPlugin& plugin() const { return plugin_; }
  const GraphDesc& graph() const override { return ResolvedGraph::graph(); }
  // Index of the first node whose output size depends on input values
  // (nonzero without max_count, masked_select); nodes().size() when none.
  // From it on, shapes are resolved on every execute.
  size_t first_data_dependent_node() const { return first_data_dependent_node_; }
  bool has_data_dependent_nodes() const { return first_data_dependent_node_ < nodes().size(); }

  const void* constant_data(uint32_t constant) const;
  // The f32 copy of an f16 constant read by f32-computing kernels, made
  // once here instead of on every execute; nullptr when there is none.
  const float* constant_as_f32(uint32_t constant) const;

  ConstantBytes constant_bytes() const { return constant_bytes_; }

  void fill_info(rts_engine_info& info) const override;
  std::unique_ptr<kit::Context> create_context(const rts_runtime_settings* settings) const override;

 private:
  void convert_f16_constants();

  CpuPlugin& plugin_;
  size_t first_data_dependent_node_ = 0;
  std::vector<std::unique_ptr<float, FreeDeleter>> constants_f32_;  // null: no f32 copy
  ConstantBytes constant_bytes_;
};

}  // namespace rtscope::cpu
