#include "specialization.hpp"

#include "engine.hpp"
#include "kit_names.hpp"
#include "plugin.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {

void install_choices(ExecutionPlan& plan, std::span<const NodeChoice> choices) {
  for (const NodeChoice& choice : choices) {
    plan.kernels[choice.node] = choice.variant.run;
    plan.tuning[choice.node] = choice.variant.tuning;
    plan.variant[choice.node] = choice.variant.name;
    if (const auto& prepared = choice.variant.tuning.prepared) {
      plan.prepared_bytes += prepared->bytes();
    }
  }
  plan.specialized = true;
}

Specializer::Specializer(const Engine& engine, const ContextSettings& settings)
    : engine_(engine), mode_(settings.kernel_specialization), tuner_(engine, settings.cache) {
  if (mode_ == RTS_KERNEL_SPECIALIZATION_LAZY) tuner_.set_gate(&gate_);
}

std::vector<NodeTask> Specializer::tasks_for(const ExecutionPlan& plan) const {
  std::vector<NodeTask> tasks;
  tasks.reserve(plan.tunable_nodes);
  for (uint32_t n = 0; n < plan.tunable.size(); ++n) {
    if (!plan.tunable[n]) continue;
    const EngineNode& node = engine_.nodes()[n];
    NodeTask& task = tasks.emplace_back();
    task.node = n;
    for (uint32_t id : node.inputs) task.inputs.push_back(plan.dims[id]);
    for (uint32_t id : node.outputs) task.outputs.push_back(plan.dims[id]);
  }
  return tasks;
}

bool Specializer::tune(const std::vector<NodeTask>& tasks, const std::atomic<bool>* cancel,
                       std::vector<NodeChoice>& choices) {
  choices.reserve(tasks.size());
  const ThreadPool::KeepAwake awake(engine_.plugin().pool());
  for (const NodeTask& task : tasks) {
    std::optional<KernelVariant> variant = tuner_.choose(task, cancel);
    if (!variant) return false;
    choices.push_back({task.node, std::move(*variant)});
  }
  return true;
}

void Specializer::on_new_plan(ExecutionPlan& plan, const Signature& signature) {
  switch (mode_) {
    case RTS_KERNEL_SPECIALIZATION_NONE:
      return;
    case RTS_KERNEL_SPECIALIZATION_EAGER: {
      std::vector<NodeChoice> choices;
      tune(tasks_for(plan), nullptr, choices);
      install_choices(plan, choices);
      return;
    }
    case RTS_KERNEL_SPECIALIZATION_LAZY:
      break;
  }
  if (plan.tunable_nodes == 0) {
    plan.specialized = true;  // nothing to build: the plan is as good as it gets
    return;
  }
  // Executes from now on take turns with the timed runs, until the tuning
  // ends (a plan tuned from the runtime cache measures nothing, and the
  // gate closes again at once).
  gate_.open();
  // The task owns copies of the shapes; `this` outlives it because the
  // worker is a member that joins first on destruction.
  worker_.post([this, signature, tasks = tasks_for(plan)](const std::atomic<bool>& cancel) {
    struct Close {
      MeasurementGate& gate;
      ~Close() { gate.close(); }
    } close{gate_};
    Result result{signature, {}};
    try {
      if (!tune(tasks, &cancel, result.choices)) return;
    } catch (const std::exception& error) {
      // The plan keeps running its generic kernels.
      engine_.plugin().log(RTS_LOG_WARN, str_cat("cpu: background kernel specialization of '",
                                                 engine_.graph().name, "' failed: ", error.what()));
      return;
    }
    std::lock_guard lock(ready_mutex_);
    ready_.push_back(std::move(result));
    ready_flag_.store(true, std::memory_order_release);
  });
}

size_t Specializer::install_ready(const PlanLookup& lookup) {
  std::vector<Result> ready;
  {
    std::lock_guard lock(ready_mutex_);
    ready.swap(ready_);
    ready_flag_.store(false, std::memory_order_release);
  }
  size_t switched = 0;
  for (const Result& result : ready) {
    ExecutionPlan* plan = lookup(result.signature);
    if (plan == nullptr || plan->specialized) continue;
    install_choices(*plan, result.choices);
    ++switched;
  }
  return switched;
}

}  // namespace rtscope::cpu
