// Tuning: picks, per node and concrete shape, the fastest of an op's
// kernel variants by running each on scratch data of that shape. Results
// are remembered for the context and stored in the host's runtime cache
// (keyed by device fingerprint + op + shapes), so a warm start measures
// nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kernels/op_spec.hpp"
#include "kit_names.hpp"
#include "rtscope/kit/measurement_gate.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class Engine;
struct EngineNode;

// One node of a plan with its concrete shapes, copied so that tuning never
// reads a plan (which the context may evict meanwhile).
struct NodeTask {
  uint32_t node = 0;
  std::vector<Dims> inputs;
  std::vector<Dims> outputs;
};

struct TuningCounters {
  std::atomic<uint64_t> runs{0};            // candidates measured
  std::atomic<uint64_t> cache_hits{0};      // results read back from the runtime cache
  std::atomic<uint64_t> cache_misses{0};    // no entry (or no cache) for a tunable shape
  std::atomic<uint64_t> cache_rejected{0};  // entries that failed validation (then re-tuned)
  std::atomic<uint64_t> micros{0};          // wall time spent measuring
};

class Tuner {
 public:
  // `cache` may be NULL; it must outlive the tuner (the ABI promises it
  // for the context's lifetime, and the tuner lives inside the context).
  Tuner(const Engine& engine, const rts_cache_store* cache);

  // Lazy tuning: every timed run goes through `gate` (null: none).
  void set_gate(MeasurementGate* gate) { gate_ = gate; }

  // The variant `task.node` should run at the task's shapes: from this
  // context's memo, the runtime cache, or by measuring every candidate.
  // nullopt when `cancel` became true before a result was reached.
  // Thread-safe. A variant with per-node state (KernelVariant::prepare)
  // comes back with it built for this node; when building it fails, the
  // op's generic kernel comes back instead.
  std::optional<KernelVariant> choose(const NodeTask& task, const std::atomic<bool>* cancel);

  const TuningCounters& counters() const { return counters_; }

 private:
  // The choice for the task's op and shapes, shared by every node alike
  // (memo, runtime cache, measurement); without per-node state. A node
  // whose inputs after the first are not all constants is offered no
  // variant that needs them to be, and tunes under a key of its own.
  std::optional<KernelVariant> choose_shared(const NodeTask& task, const std::atomic<bool>* cancel);
  // The task's tensors as a PrepareFn sees them: constant float inputs
  // with the engine's f32 data, everything else without data.
  void constant_refs(const NodeTask& task, std::vector<TensorRef>& inputs,
                     std::vector<TensorRef>& outputs) const;
  // Whether every input after the first is an engine constant.
  bool constant_operands(const EngineNode& node) const;
  std::optional<KernelVariant> load(const std::string& key, const TuningSpace& space);
  void store(const std::string& key, const KernelVariant& variant, uint64_t best_ns);
  // Fastest candidate by the median of a few timed runs; nullopt when
  // cancelled.
  std::optional<KernelVariant> measure(const NodeTask& task, const TuningSpace& space,
                                       const std::atomic<bool>* cancel, uint64_t& best_ns);

  const Engine& engine_;
  const rts_cache_store* cache_;
  // RTSCOPE_CPU_FORCE_VARIANT: variant names, comma-separated, of which
  // the first that is a node's candidate wins there, without measuring or
  // caching (tests run every variant against the reference this way);
  // empty when unset.
  std::vector<std::string> forced_variants_;
  MeasurementGate* gate_ = nullptr;
  TuningCounters counters_;
  std::mutex memo_mutex_;
  std::map<std::string, KernelVariant> memo_;  // by tuning key
};

}  // namespace rtscope::cpu
