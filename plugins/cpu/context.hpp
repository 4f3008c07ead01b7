// An execution context: runs an engine on bound inputs. It caches one
// execution plan per input-shape signature and keeps the buffers those
// plans need, so steady-state executes allocate nothing. It owns the
// kernel specialization of its plans (specialization.hpp) and, under
// graph_capture whole_graph, one recorded replay (capture.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "aligned_buffer.hpp"
#include "capture.hpp"
#include "execution_plan.hpp"
#include "kernels/op_spec.hpp"
#include "rtscope/kit/backend.hpp"
#include "rtscope/kit/plan_cache.hpp"
#include "rtscope/kit/step_profile.hpp"
#include "rtscope/plugin_abi.h"
#include "specialization.hpp"

namespace rtscope::cpu {

class Engine;

class Context : public kit::Context {
 public:
  // `settings` may be NULL (defaults); its cache store must outlive the
  // context, as the ABI promises. With static input shapes, eager
  // specialization tunes here and lazy starts tuning in the background.
  Context(const Engine& engine, const rts_runtime_settings* settings);
  // Stops and joins the background tuning thread first.
  ~Context() override;

  // Externally synchronized; throws Error.
  void execute(const rts_execute_args& args) override;

  // Thread-safe with respect to execute.
  void report_counters(const rts_counter_sink& sink) const override;

  const ContextSettings& settings() const { return settings_; }

 private:
  ExecutionPlan& plan_for(const rts_execute_args& args);
  ExecutionPlan& add_plan(std::vector<Dims> input_dims);
  void install_specializations();
  void execute_planned(const rts_execute_args& args);
  void execute_captured(const rts_execute_args& args);
  // Makes `plan` the one counters describe (specialized_ready, variants,
  // memory).
  void note_current_plan(const ExecutionPlan& plan);
  // Points every value at its storage; returns how many outputs are
  // updated in place on their aliased input.
  int resolve_storage(const ExecutionPlan& plan, const rts_execute_args& args);
  // Dynamic nodes (execution_plan.hpp): the real dims of the node's
  // outputs, from its input values (data-dependent op) or input dims.
  void resolve_dynamic_shapes(size_t node_index, const ExecutionPlan& plan);
  void run_node(size_t node_index, const ExecutionPlan& plan);
  // The fused group that runs in place of node `node_index`.
  void run_group(size_t node_index, const ExecutionPlan& plan);
  void run_with_f32_conversion(size_t node_index, const ExecutionPlan& plan);
  void copy_remaining_outputs(const ExecutionPlan& plan, const rts_execute_args& args);

  const Engine& engine_;
  ContextSettings settings_;
  bool fuse_;  // RTSCOPE_CPU_FUSION when the context was created

  kit::PlanCache<ExecutionPlan> plans_;  // keyed by the input shapes
  // The plan the last execute ran and its key (null after plans changed).
  ExecutionPlan* last_plan_ = nullptr;
  std::vector<int64_t> last_key_;
  AlignedBuffer arena_;  // intermediates, at the plan's offsets
  // Stand-ins for output bindings that overlap an input the engine still
  // reads; copied into the binding after every node ran.
  std::vector<AlignedBuffer> output_stand_ins_;
  std::vector<uint8_t> output_uses_stand_in_;
  AlignedBuffer conversion_scratch_;
  std::vector<TensorRef> refs_;  // per value id, for the current execute
  std::vector<TensorRef> node_inputs_;
  std::vector<TensorRef> node_outputs_;
  // Per value id: the dims resolved this execute, for dynamic values only.
  std::vector<Dims> runtime_dims_;
  std::vector<const Dims*> dynamic_inputs_;
  std::vector<Dims> dynamic_outputs_;
  // Why graph_capture whole_graph runs this engine eagerly (empty: it
  // does not): a replay is recorded for fixed shapes, and a data-dependent
  // node changes shapes from one execute to the next.
  std::string capture_refusal_;
  std::unique_ptr<Capture> capture_;
  // RTSCOPE_CPU_PROFILE: the profile, and per (plan id, specialized) its
  // group and a row per node; null and empty otherwise.
  struct PlanRows {
    uint32_t group = 0;
    std::vector<uint32_t> rows;
  };
  const PlanRows& plan_rows(const ExecutionPlan& plan, const rts_execute_args& args);
  std::unique_ptr<StepProfile> profile_;
  std::map<std::pair<uint64_t, bool>, PlanRows> plan_rows_;
  uint32_t profile_group_ = 0;    // of the current execute
  uint64_t current_plan_id_ = 0;  // 0: none yet
  bool current_plan_specialized_ = false;

  std::atomic<uint64_t> executes_{0};
  std::atomic<uint64_t> kernel_runs_{0};
  std::atomic<uint64_t> plans_built_{0};
  std::atomic<uint64_t> output_allocations_{0};
  std::atomic<uint64_t> in_place_updates_{0};
  std::atomic<uint64_t> output_copies_{0};
  std::atomic<uint64_t> generic_kernel_runs_{0};
  std::atomic<uint64_t> specialized_kernel_runs_{0};
  std::atomic<uint64_t> specialized_ready_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> replays_{0};
  std::atomic<uint64_t> capture_steps_{0};  // of the current recording
  std::atomic<uint64_t> eager_instead_of_capture_{0};
  std::atomic<uint64_t> dynamic_shape_resolutions_{0};
  // Memory of the current plan: its arena and every intermediate apart.
  std::atomic<uint64_t> planned_peak_bytes_{0};
  std::atomic<uint64_t> naive_peak_bytes_{0};
  std::atomic<uint64_t> fused_groups_{0};  // in the current plan
  // Packed weights and scratch the current plan's kernels prepared at build.
  std::atomic<uint64_t> prepared_bytes_{0};
  // Kernel variants of the current plan ("variant.<name>" -> nodes), for
  // module.stats(); replaced when the current plan changes.
  mutable std::mutex variants_mutex_;
  std::vector<std::pair<std::string, uint64_t>> variant_counts_;

  // Last: destroyed first, so background tuning stops before the rest.
  Specializer specializer_;
};

}  // namespace rtscope::cpu
