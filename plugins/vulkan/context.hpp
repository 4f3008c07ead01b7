// An execution context: the engine's pipelines (created here, the costly
// step), one command buffer and fence, and one execution plan per
// input-shape signature and device binding. An execute stages host inputs
// in, records the plan's commands into the one command buffer, submits
// once, waits, and stages host outputs back; device-resident bindings
// (device_alloc) are read and written in place. The first submit first
// waits for the engine's weights, which may still be being written: the
// pipelines, the first plan and its recording overlap that upload.
//
// graph_capture whole_graph: the plan's commands are recorded once into a
// command buffer of their own and every later execute with the same shapes
// and device bindings replays it with one submit; only staged host inputs
// are refreshed (the plan's addresses are fixed). New shapes or bindings
// select or build another plan, which records on its first execute. An
// execute waits for its submit, so one recording per plan suffices.
//
// kernel_specialization: `none` runs the generic pipelines (shapes in push
// constants). `eager` compiles each new plan's shape-specialized pipelines
// (pipelines.hpp) before its first dispatch. `lazy` runs a new plan on the
// generic pipelines and compiles the specialized ones on a background
// thread, started right after the plan's first submit; each execute then
// uses those that are ready, and a whole_graph recording is recorded again
// once all of its plan's are finished. Nothing ever waits for a compile.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "device_shadows.hpp"
#include "execution_plan.hpp"
#include "pipelines.hpp"
#include "rtscope/kit/backend.hpp"
#include "rtscope/kit/background_worker.hpp"
#include "rtscope/kit/plan_cache.hpp"
#include "rtscope/kit/settings.hpp"
#include "rtscope/plugin_abi.h"
#include "segmented_run.hpp"

namespace rtscope::vulkan {

class Device;
class Engine;

// The settings a context was created with (rts_runtime_settings, copied).
using kit::ContextSettings;

class Context : public kit::Context {
 public:
  // Creates the engine's pipelines through the settings' runtime cache.
  Context(const Engine& engine, const rts_runtime_settings* settings);
  // Executes are synchronous; only a submit whose wait failed can still be
  // running, and the destructor waits for it (bounded) first.
  ~Context() override;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Externally synchronized; throws Error.
  void execute(const rts_execute_args& args) override;

  // Thread-safe with respect to execute.
  void report_counters(const rts_counter_sink& sink) const override;

 private:
  // One execute after any shadowing.
  void run(const rts_execute_args& args);
  void check_inputs(const rts_execute_args& args);
  // The device range of a device-resident binding; throws naming it when
  // the memory is not this device's or cannot hold `value`.
  BufferRegion device_region(const rts_tensor& tensor, const char* what, const std::string& name,
                             rts_dtype device_dtype) const;
  ExecutionPlan& plan_for(const rts_execute_args& args);
  // Frees the plan's recorded command buffer, when it is evicted.
  void release_plan(ExecutionPlan& plan);
  void run_host_checks(const ExecutionPlan& plan, const rts_execute_args& args) const;
  void stage_in(const ExecutionPlan& plan, const rts_execute_args& args) const;
  DispatchMix record(const ExecutionPlan& plan, VkCommandBuffer commands,
                     VkCommandBufferUsageFlags usage) const;
  // When the submit started, returned, and its fence was seen signalled;
  // read only for a profiled plan (zero otherwise, except submit_start on
  // the first submit).
  struct SubmitTimes {
    std::chrono::steady_clock::time_point submit_start;
    std::chrono::steady_clock::time_point submitted;
    std::chrono::steady_clock::time_point signalled;
  };
  SubmitTimes submit_and_wait(ExecutionPlan& plan);
  // Adds the finished submit's device time to gpu_time_ns and returns it
  // (0 when not timed).
  uint64_t read_gpu_time();
  // The plan's command buffer under whole_graph capture: recorded on first
  // use and again when lazy specialization finished for its pipelines.
  VkCommandBuffer recorded_commands(ExecutionPlan& plan);
  // Registers a new plan's specialized pipelines; eager compiles them now.
  void specialize(ExecutionPlan& plan);
  // Lazy: hands a plan's specialized pipelines to the background worker.
  void start_background_compile(ExecutionPlan& plan);
  void report_first_staging(const ExecutionPlan& plan) const;
  void stage_out(const ExecutionPlan& plan, const rts_execute_args& args) const;
  // Fails the execute when a chained batch stopped waiting (chain.glsl).
  void check_chain_progress(const ExecutionPlan& plan) const;

  const Engine& engine_;
  Device& device_;
  ContextSettings settings_;
  PipelineCounters pipeline_counters_;
  PipelineCounters specialized_counters_;
  std::unique_ptr<PipelineSet> pipelines_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer commands_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkQueryPool timestamps_ = VK_NULL_HANDLE;  // 2 timestamps; null without device support
  // A submit whose fence was not seen signalled (its wait failed); the
  // destructor waits before freeing what it uses.
  bool in_flight_ = false;
  // Keyed by the input shapes and the ranges of device bindings.
  kit::PlanCache<ExecutionPlan> plans_{[this](ExecutionPlan& plan) { release_plan(plan); }};
  DeviceBindings device_bindings_;  // of the current execute
  DeviceShadows shadows_;

  std::atomic<uint64_t> executes_{0};
  std::atomic<uint64_t> submits_{0};
  std::atomic<uint64_t> dispatches_{0};
  std::atomic<uint64_t> barriers_{0};
  std::atomic<uint64_t> chained_waits_{0};  // batches that waited for a counter, not a barrier
  std::atomic<uint64_t> plans_built_{0};
  std::atomic<uint64_t> staged_in_bytes_{0};
  std::atomic<uint64_t> staged_out_bytes_{0};
  std::atomic<uint64_t> in_place_updates_{0};
  std::atomic<uint64_t> fused_residual_adds_{0};
  std::atomic<uint64_t> fused_row_norms_{0};
  std::atomic<uint64_t> fused_gated_products_{0};
  std::atomic<uint64_t> fused_ropes_{0};
  std::atomic<uint64_t> fused_cache_writes_{0};
  std::atomic<uint64_t> fused_argmaxes_{0};
  std::atomic<uint64_t> skinny_coop_products_{0};
  std::atomic<uint64_t> f16_math_products_{0};
  std::atomic<uint64_t> spread_products_{0};
  uint64_t pipeline_create_ns_ = 0;  // set once by the constructor
  // Where the host time of the context's first execute went (start-up
  // phases: its plan, the plan's specialized pipelines, recording, the
  // submit until the fence): written by that execute only, read by
  // report_counters (a later call, thread-safe through the atomics).
  struct FirstExecute {
    std::atomic<uint64_t> plan_ns{0};
    std::atomic<uint64_t> specialize_ns{0};
    std::atomic<uint64_t> record_ns{0};
    std::atomic<uint64_t> device_ns{0};
    // Waiting for the engine's background upload before the submit.
    std::atomic<uint64_t> upload_wait_ns{0};
  };
  // The engine's constants are known to be on the device (set by the
  // first submit that waited for them).
  bool constants_ready_ = false;
  FirstExecute first_;
  std::atomic<uint64_t> output_allocations_{0};
  std::atomic<uint64_t> device_bound_bytes_{0};
  std::atomic<uint64_t> shadowed_bytes_{0};
  std::atomic<uint64_t> recordings_{0};
  std::atomic<uint64_t> replays_{0};
  std::atomic<uint64_t> gpu_time_ns_{0};
  std::atomic<uint64_t> gpu_timed_executes_{0};
  std::atomic<uint64_t> specialized_dispatches_{0};
  std::atomic<uint64_t> generic_dispatches_{0};
  DispatchProfile profile_;  // RTSCOPE_VULKAN_PROFILE

  // Set for an engine with data-dependent nodes: execute and counters go
  // to its segments' contexts instead (segments.hpp).
  std::unique_ptr<SegmentedRun> segmented_;

  // Lazy specialization's compiles; declared last so that it is joined
  // before the pipelines and settings it compiles with are destroyed.
  kit::BackgroundWorker worker_;
};

}  // namespace rtscope::vulkan
