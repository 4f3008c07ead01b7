#include "tuning.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string_view>

#include "aligned_buffer.hpp"
#include "engine.hpp"
#include "kit_names.hpp"
#include "plugin.hpp"
#include "rtscope/kit/candidate_race.hpp"
#include "rtscope/kit/elapsed.hpp"
#include "rtscope/kit/settings.hpp"
#include "rtscope/kit/trace_span.hpp"
#include "tuning_record.hpp"

namespace rtscope::cpu {
namespace {

using Clock = std::chrono::steady_clock;

// A few runs per candidate, fewer when one run is slow: enough to see
// a difference between strategies without stretching a cold start.
constexpr int kMinTimedRuns = 3;
constexpr int kMaxTimedRuns = 10;
constexpr auto kCandidateBudget = std::chrono::milliseconds(2);

using kit::elapsed_ns;

// Seeded values in [-1, 1]: never time kernels on all-zero data.
void fill_random(float* data, int64_t count, uint32_t seed) {
  uint32_t state = seed * 2654435761u + 1;
  for (int64_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    data[i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
}

// Builds a variant's per-node state. One at a time in the process: the
// states are oneDNN primitives, and contexts tune on threads of their
// own. oneDNN's primitive creation is meant to be thread-safe, but its
// cache publishes its lock through code the sanitizers cannot see, and
// creation is rare (once per node and candidate) and never on a step.
std::shared_ptr<PreparedKernel> prepare_state(const KernelVariant& variant, const NodeDesc& node,
                                              std::span<const TensorRef> inputs,
                                              std::span<const TensorRef> outputs,
                                              const KernelTuning& tuning) {
  static std::mutex creation;
  const std::lock_guard lock(creation);
  return variant.prepare(node, inputs, outputs, tuning);
}

// Inputs and outputs of one node at its task's shapes. Float tensors are
// f32 (f16 nodes run f32 kernels); constant inputs use the engine's own
// weights, everything else scratch memory.
class Workspace {
 public:
  Workspace(const Engine& engine, const NodeTask& task, int64_t position) {
    const EngineNode& node = engine.nodes()[task.node];
    buffers_.reserve(task.inputs.size() + task.outputs.size());
    for (size_t i = 0; i < task.inputs.size(); ++i) {
      const EngineValue& value = engine.values()[node.inputs[i]];
      const InputKind kind = op_table().input_kind(*node.spec, i);
      TensorRef& ref = inputs_.emplace_back();
      ref.dims = task.inputs[i];
      ref.dtype = kind == InputKind::kFloat ? RTS_DTYPE_F32 : value.dtype;
      if (kind == InputKind::kFloat && value.role == ValueRole::kConstant) {
        const void* data = value.dtype == RTS_DTYPE_F32 ? engine.constant_data(value.role_index)
                                                        : engine.constant_as_f32(value.role_index);
        if (data != nullptr) {
          ref.data = const_cast<void*>(data);
          continue;
        }
      }
      ref.data = scratch(ref.bytes());
      if (kind == InputKind::kFloat) {
        fill_random(ref.as<float>(), ref.elements(), static_cast<uint32_t>(i + 1));
      } else if (kind == InputKind::kPosition) {
        for (int64_t e = 0; e < ref.elements(); ++e) ref.as<int64_t>()[e] = position;
      } else {
        std::memset(ref.data, 0, ref.bytes());
      }
    }
    for (const Dims& dims : task.outputs) {
      TensorRef& ref = outputs_.emplace_back();
      ref.dims = dims;
      ref.dtype = RTS_DTYPE_F32;
      ref.data = scratch(ref.bytes());
    }
  }

  std::span<const TensorRef> inputs() const { return inputs_; }
  std::span<const TensorRef> outputs() const { return outputs_; }

 private:
  void* scratch(size_t bytes) {
    buffers_.emplace_back(std::max<size_t>(bytes, 1));
    return buffers_.back().data();
  }

  std::vector<AlignedBuffer> buffers_;
  std::vector<TensorRef> inputs_;
  std::vector<TensorRef> outputs_;
};

// The median of a few timed runs of `variant` on `args` after a warm-up
// run (page faults, code): a candidate whose runs only sometimes go fast
// (one that waits on pool workers) does not win on its luckiest run.
uint64_t median_run_ns(const KernelVariant& variant, const KernelArgs& args) {
  variant.run(args);
  std::vector<uint64_t> times;
  times.reserve(kMaxTimedRuns);
  const Clock::time_point budget_start = Clock::now();
  for (int run = 0; run < kMaxTimedRuns; ++run) {
    const Clock::time_point begin = Clock::now();
    variant.run(args);
    times.push_back(elapsed_ns(begin));
    if (run + 1 >= kMinTimedRuns && Clock::now() - budget_start > kCandidateBudget) break;
  }
  const auto middle = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), middle, times.end());
  return *middle;
}

}  // namespace

Tuner::Tuner(const Engine& engine, const rts_cache_store* cache)
    : engine_(engine), cache_(kit::complete_cache(cache)) {
  if (const char* forced = std::getenv("RTSCOPE_CPU_FORCE_VARIANT"); forced != nullptr) {
    std::string_view names(forced);
    while (!names.empty()) {
      const size_t comma = names.find(',');
      if (comma != 0) forced_variants_.emplace_back(names.substr(0, comma));
      names.remove_prefix(comma == std::string_view::npos ? names.size() : comma + 1);
    }
  }
}

std::optional<KernelVariant> Tuner::choose(const NodeTask& task, const std::atomic<bool>* cancel) {
  std::optional<KernelVariant> chosen = choose_shared(task, cancel);
  if (!chosen || chosen->prepare == nullptr) return chosen;
  // The state belongs to this node (its weights), so it is built here and
  // never memoized or cached by shape.
  const EngineNode& node = engine_.nodes()[task.node];
  try {
    std::vector<TensorRef> inputs;
    std::vector<TensorRef> outputs;
    constant_refs(task, inputs, outputs);
    chosen->tuning.prepared = prepare_state(*chosen, *node.desc, inputs, outputs, chosen->tuning);
  } catch (const std::exception& error) {
    engine_.plugin().log(RTS_LOG_WARN, str_cat("cpu: could not prepare kernel ", chosen->name,
                                               " for ", node.desc->label(), ": ", error.what(),
                                               "; running its generic kernel"));
    return KernelVariant{node.spec->kernel_name, node.spec->run, {}};
  }
  return chosen;
}

void Tuner::constant_refs(const NodeTask& task, std::vector<TensorRef>& inputs,
                          std::vector<TensorRef>& outputs) const {
  const EngineNode& node = engine_.nodes()[task.node];
  for (size_t i = 0; i < task.inputs.size(); ++i) {
    const EngineValue& value = engine_.values()[node.inputs[i]];
    TensorRef& ref = inputs.emplace_back();
    ref.dims = task.inputs[i];
    ref.dtype = RTS_DTYPE_F32;
    if (op_table().input_kind(*node.spec, i) != InputKind::kFloat ||
        value.role != ValueRole::kConstant) {
      ref.dtype = value.dtype;
      continue;
    }
    const void* data = value.dtype == RTS_DTYPE_F32 ? engine_.constant_data(value.role_index)
                                                    : engine_.constant_as_f32(value.role_index);
    ref.data = const_cast<void*>(data);
  }
  for (const Dims& dims : task.outputs) outputs.push_back({RTS_DTYPE_F32, dims, nullptr});
}

std::optional<KernelVariant> Tuner::choose_shared(const NodeTask& task,
                                                  const std::atomic<bool>* cancel) {
  const EngineNode& node = engine_.nodes()[task.node];
  std::vector<const Dims*> input_dims;
  for (const Dims& dims : task.inputs) input_dims.push_back(&dims);
  CpuPlugin& plugin = engine_.plugin();
  const unsigned threads = plugin.pool().size();
  TuningSpace space;
  node.spec->tune_space(*node.desc, input_dims, task.outputs, threads, space);
  // A variant that keeps inputs 1.. from its prepare step needs them fixed
  // for the plan's life: engine constants.
  const bool dropped_packed =
      !constant_operands(node) && std::erase_if(space.variants, [](const KernelVariant& variant) {
                                    return variant.needs_constant_operands;
                                  }) > 0;
  if (space.variants.empty()) return KernelVariant{node.spec->kernel_name, node.spec->run, {}};
  // A single candidate needs no measurement and no cache entry.
  if (space.variants.size() == 1) return space.variants.front();
  for (const std::string& forced : forced_variants_) {
    for (const KernelVariant& variant : space.variants) {
      if (forced == variant.name) return variant;
    }
  }

  // Nodes of the same shapes share a result, unless one of them cannot
  // pack: its (smaller) candidate set gets a key of its own, so that a
  // packed choice never reaches it from the memo or the runtime cache.
  std::string key = tuning_key(*node.spec, *node.desc, task.inputs, threads);
  if (dropped_packed) key += "/unpacked";
  {
    std::lock_guard lock(memo_mutex_);
    const auto found = memo_.find(key);
    if (found != memo_.end()) return found->second;
  }
  std::optional<KernelVariant> chosen = load(key, space);
  if (!chosen) {
    const kit::TraceSpan span(plugin.host(), "compile",
                              [&] { return "tune " + node.desc->label(); });
    uint64_t best_ns = 0;
    chosen = measure(task, space, cancel, best_ns);
    if (!chosen) return std::nullopt;
    store(key, *chosen, best_ns);
    plugin.log(RTS_LOG_DEBUG,
               str_cat("cpu: tuned ", node.desc->label(), " at ", key, ": ", chosen->name,
                       " grain ", chosen->tuning.grain, " (", best_ns, " ns)"));
  }
  std::lock_guard lock(memo_mutex_);
  return memo_.emplace(key, *chosen).first->second;
}

bool Tuner::constant_operands(const EngineNode& node) const {
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (engine_.values()[node.inputs[i]].role != ValueRole::kConstant) return false;
  }
  return true;
}

std::optional<KernelVariant> Tuner::load(const std::string& key, const TuningSpace& space) {
  if (cache_ == nullptr) {
    counters_.cache_misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  std::vector<uint8_t> bytes;
  if (kit::cache_get(*cache_, engine_.plugin().device().fingerprint, key, bytes) != RTS_OK) {
    counters_.cache_misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  // Only an intact record naming one of today's candidates is trusted.
  const std::optional<TuningRecord> record = decode_tuning_record(bytes);
  if (record) {
    for (const KernelVariant& variant : space.variants) {
      if (record->variant == variant.name && record->tuning.grain == variant.tuning.grain) {
        counters_.cache_hits.fetch_add(1, std::memory_order_relaxed);
        return variant;
      }
    }
  }
  counters_.cache_rejected.fetch_add(1, std::memory_order_relaxed);
  engine_.plugin().log(RTS_LOG_WARN, str_cat("cpu: runtime cache entry '", key, "' (", bytes.size(),
                                             " bytes) is not a valid tuning record; re-tuning"));
  return std::nullopt;
}

void Tuner::store(const std::string& key, const KernelVariant& variant, uint64_t best_ns) {
  if (cache_ == nullptr) return;
  const std::vector<uint8_t> bytes =
      encode_tuning_record({.variant = variant.name, .tuning = variant.tuning, .best_ns = best_ns});
  const rts_status status = cache_->put(cache_->user, engine_.plugin().device().fingerprint,
                                        key.c_str(), bytes.data(), bytes.size());
  if (status != RTS_OK) {
    // The result still applies to this context; only the warm start is lost.
    engine_.plugin().log(RTS_LOG_WARN,
                         str_cat("cpu: could not store tuning result '", key,
                                 "' in the runtime cache (status ", static_cast<int>(status), ")"));
  }
}

std::optional<KernelVariant> Tuner::measure(const NodeTask& task, const TuningSpace& space,
                                            const std::atomic<bool>* cancel, uint64_t& best_ns) {
  const Clock::time_point started = Clock::now();
  const EngineNode& node = engine_.nodes()[task.node];
  const Workspace workspace(engine_, task, space.position);
  const auto measure_one = [&](size_t index) -> std::optional<uint64_t> {
    const KernelVariant& variant = space.variants[index];
    uint64_t ns = 0;
    try {
      KernelTuning tuning = variant.tuning;
      if (variant.prepare != nullptr) {
        // Measured as it will run: on state built from the node's own
        // constants; building it is a one-time cost left out of the
        // timing. The state goes with this measurement, so one
        // candidate's state (packed weights, say) is alive at a time.
        std::vector<TensorRef> inputs;
        std::vector<TensorRef> outputs;
        constant_refs(task, inputs, outputs);
        tuning.prepared = prepare_state(variant, *node.desc, inputs, outputs, tuning);
      }
      ns = median_run_ns(variant, {*node.desc, workspace.inputs(), workspace.outputs(),
                                   engine_.plugin().pool(), &tuning});
    } catch (const std::exception& error) {
      // A candidate that cannot run this shape is simply not chosen.
      engine_.plugin().log(RTS_LOG_DEBUG,
                           str_cat("cpu: tuning candidate ", variant.name, " failed on ",
                                   node.desc->label(), ": ", error.what()));
      return std::nullopt;
    }
    counters_.runs.fetch_add(1, std::memory_order_relaxed);
    engine_.plugin().log(RTS_LOG_TRACE,
                         str_cat("cpu: tuning ", node.desc->label(), ": ", variant.name, " grain ",
                                 variant.tuning.grain, ": median ", ns, " ns"));
    return ns;
  };
  // Each candidate scored by its median run, the close ones twice
  // (kit/candidate_race.hpp). In the background (lazy), the context's
  // executes wait while a node is measured, rather than run alongside and
  // be measured with it.
  kit::RaceResult race;
  const auto measure_all = [&] {
    race = kit::run_candidate_race(space.variants.size(), measure_one, [&] {
      return cancel != nullptr && cancel->load(std::memory_order_relaxed);
    });
  };
  if (gate_ != nullptr) {
    gate_->measure(measure_all);
  } else {
    measure_all();
  }
  counters_.micros.fetch_add(elapsed_ns(started) / 1000, std::memory_order_relaxed);
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return std::nullopt;
  // Every candidate failed: the first one still computes the node correctly
  // (the real inputs may well be valid where the scratch ones were not).
  if (!race.winner) {
    best_ns = 0;
    return space.variants.front();
  }
  best_ns = race.best_ns;
  return space.variants[*race.winner];
}

}  // namespace rtscope::cpu
