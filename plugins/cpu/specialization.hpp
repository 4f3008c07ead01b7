// Kernel specialization of execution plans, per the context's setting:
//  - none:  plans keep their generic kernels.
//  - eager: a new plan is tuned (or its results loaded from the runtime
//           cache) before it first runs.
//  - lazy:  a new plan runs generic kernels while the context's background
//           thread tunes it; the finished choices are installed at the
//           start of a later execute (never during one), so the switch
//           costs the execute thread one atomic load and no wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "execution_plan.hpp"
#include "rtscope/kit/background_worker.hpp"
#include "tuning.hpp"

namespace rtscope::cpu {

class Engine;

struct NodeChoice {
  uint32_t node = 0;
  KernelVariant variant;
};

// Puts every choice into `plan` and marks it specialized.
void install_choices(ExecutionPlan& plan, std::span<const NodeChoice> choices);

class Specializer {
 public:
  using Signature = std::vector<int64_t>;
  // Finds the plan of a signature; nullptr when it was evicted.
  using PlanLookup = std::function<ExecutionPlan*(const Signature&)>;

  Specializer(const Engine& engine, const ContextSettings& settings);
  // Joins the background thread before the tuner and results it uses go.
  ~Specializer() = default;

  // Called once for every newly built plan, on the execute thread.
  void on_new_plan(ExecutionPlan& plan, const Signature& signature);

  // Lazy: whether finished results wait to be installed.
  bool has_ready() const { return ready_flag_.load(std::memory_order_acquire); }
  // Installs finished results into the plans `lookup` finds; returns how
  // many plans switched. Call between executes only.
  size_t install_ready(const PlanLookup& lookup);

  const TuningCounters& counters() const { return tuner_.counters(); }

  // Lazy: executes take turns with the background thread's timed runs.
  MeasurementGate& gate() { return gate_; }

 private:
  struct Result {
    Signature signature;
    std::vector<NodeChoice> choices;
  };

  std::vector<NodeTask> tasks_for(const ExecutionPlan& plan) const;
  // Chooses a variant for every task; false when cancelled.
  bool tune(const std::vector<NodeTask>& tasks, const std::atomic<bool>* cancel,
            std::vector<NodeChoice>& choices);

  const Engine& engine_;
  rts_kernel_specialization mode_;
  MeasurementGate gate_;
  Tuner tuner_;
  std::mutex ready_mutex_;
  std::vector<Result> ready_;
  std::atomic<bool> ready_flag_{false};
  // Declared last: destroyed first, so its thread stops before anything it
  // touches.
  kit::BackgroundWorker worker_;
};

}  // namespace rtscope::cpu
