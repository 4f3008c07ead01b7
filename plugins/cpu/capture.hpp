// Whole-graph capture (graph_capture: whole_graph): a replay plan recorded
// from an execution plan and the bindings of one execute.
//
// Recording resolves everything an execute would otherwise work out per
// call: every value's storage (persistent buffers owned by the capture),
// every node's kernel, tuning and attribute values, f16 conversions. The
// result is a flat StepList. Replaying copies the non-aliased inputs into
// the capture's input buffers, runs the steps and copies the results into
// the output bindings: no shape inference, no plan lookup, no allocation.
//
// Consecutive small elementwise nodes become one step (capture_chain.hpp)
// that keeps the running value in registers.
//
// Aliased inputs (e.g. KV caches updated in place) are bound directly to
// the caller's storage, so a decode step never copies its cache. Their
// addresses are baked into the steps: when a later execute passes an
// aliased input at a different address (or stops or starts binding its
// output in place) the capture no longer matches and the context
// re-records. Callers that keep their state tensors, as Model does,
// record once per input shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "aligned_buffer.hpp"
#include "execution_plan.hpp"
#include "kernels/step_list.hpp"
#include "rtscope/kit/step_profile.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class Engine;

class Capture {
 public:
  // Records `plan` for the bindings in `args`, which the context has
  // checked. Throws Error (the context then has no capture). With a
  // `profile`, replays time every step into the rows `node_rows` (one per
  // engine node) names, and the whole replay into `group`.
  struct Profiling {
    StepProfile* profile = nullptr;
    uint32_t group = 0;
    std::span<const uint32_t> node_rows;
  };
  Capture(const Engine& engine, const ExecutionPlan& plan, const rts_execute_args& args,
          const Profiling& profiling);
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Whether `args` can replay this capture: the same input dtypes and
  // shapes with enough bytes bound, and every aliased input (and its
  // in-place output) at the recorded address. A few compares per binding.
  bool matches(const rts_execute_args& args) const;

  // Runs the recording on `args`; returns how many outputs the host's
  // allocator provided. Throws Error on an output binding failure.
  uint64_t replay(const rts_execute_args& args);

  size_t nodes() const { return nodes_; }
  size_t steps() const { return steps_.size(); }
  // Tunable nodes recorded with specialized / generic kernels.
  size_t specialized_nodes() const { return specialized_nodes_; }
  size_t generic_nodes() const { return generic_nodes_; }
  // Outputs written in place into an aliased input's storage per replay.
  size_t in_place_outputs() const { return in_place_outputs_; }
  uint32_t profile_group() const { return profiling_.group; }

 private:
  struct InputBinding {
    rts_dtype dtype;
    uint32_t rank;
    int64_t dims[RTS_MAX_RANK];
    size_t bytes;
    void* copy;           // capture buffer; nullptr for an aliased input
    const void* address;  // aliased input: the caller's storage at record time
  };
  struct AliasedOutput {
    uint32_t output;
    uint32_t input;
    bool in_place;
  };
  struct OutputCopy {
    uint32_t output;
    const void* source;
    size_t bytes;
  };

  void* new_buffer(size_t bytes);
  // A node recorded: counted, and its kernel's kind (tunable nodes).
  void count_node(size_t node_index, const ExecutionPlan& plan);
  void record_node(size_t node_index, const ExecutionPlan& plan);
  void record_group(const FusedGroup& group, const ExecutionPlan& plan);

  const Engine& engine_;
  std::vector<Dims> dims_;             // per value id, copied from the plan
  std::vector<void*> storage_;         // per value id, resolved at record time
  std::vector<KernelTuning> tunings_;  // per node, copied from the plan
  std::vector<const Dims*> output_dims_;
  std::vector<InputBinding> inputs_;
  std::vector<AliasedOutput> aliased_outputs_;
  std::vector<OutputCopy> output_copies_;
  std::vector<AlignedBuffer> buffers_;
  AlignedBuffer conversion_scratch_;
  size_t conversion_used_ = 0;
  StepList steps_;
  // Rope tables the steps point into, kept alive with the recording.
  std::vector<std::shared_ptr<RopeTable>> rope_tables_;
  Profiling profiling_;
  std::vector<uint32_t> step_rows_;  // per step, with a profile
  std::vector<uint64_t> step_ns_;    // per step, with a profile
  size_t nodes_ = 0;
  size_t specialized_nodes_ = 0;
  size_t generic_nodes_ = 0;
  size_t in_place_outputs_ = 0;
};

}  // namespace rtscope::cpu
