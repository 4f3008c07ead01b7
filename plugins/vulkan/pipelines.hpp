// The compute pipelines of one context. Generic pipelines (every shape
// constant 0: shapes come from push constants) are created when the
// context is, in parallel across threads (the costly JIT step on GPUs).
// Shape-specialized pipelines (kernel_specialization eager or lazy) are
// slots registered per distinct (generic pipeline, shape words) that the
// plans' dispatches use, compiled before the first dispatch (eager) or on
// a background thread while the generic ones run (lazy).
//
// Each pipeline compiles through its own VkPipelineCache, seeded from the
// host's runtime cache when it holds a valid blob for (device fingerprint,
// key) and stored back after a miss. Key:
// "pipeline/v1/<variant>/<SPIR-V digest>/<workgroup>[/s<word>x<word>...]",
// e.g. "pipeline/v1/matvec_f16/1f3a.../wg256/s1x6144x2048x0": a shader,
// workgroup or shape change is a new key, never a stale hit.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

class Device;

struct PipelineCounters {
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> cache_hits{0};
  std::atomic<uint64_t> cache_misses{0};
  std::atomic<uint64_t> cache_rejected{0};
  std::atomic<uint64_t> failed{0};
};

// One shape-specialized pipeline. `pipeline` is published (release) once
// compiled; a failed compile leaves it null and the generic one runs.
struct SpecializedPipeline {
  enum State : int { kRegistered, kQueued, kReady, kFailed };
  uint32_t generic = 0;  // index of the generic pipeline it specializes
  std::vector<uint32_t> words;
  std::atomic<VkPipeline> pipeline{VK_NULL_HANDLE};
  std::atomic<int> state{kRegistered};
  // The runtime cache was already asked (create_cached) and had no valid
  // entry: the compile goes straight to SPIR-V. Written before the slot
  // is handed to another thread.
  bool cache_checked = false;

  bool finished() const {
    const int now = state.load(std::memory_order_acquire);
    return now == kReady || now == kFailed;
  }
};

class PipelineSet {
 public:
  // Creates the generic pipelines. `cache` may be NULL (no runtime cache).
  // Throws Error on a driver failure.
  PipelineSet(Device& device, std::span<const std::string> variants, const rts_cache_store* cache,
              PipelineCounters& counters);
  // Specialized pipelines still compiling must be finished or cancelled
  // first (the context joins its background worker before this runs).
  ~PipelineSet();
  PipelineSet(const PipelineSet&) = delete;
  PipelineSet& operator=(const PipelineSet&) = delete;

  // Index of `variant`; throws Error (internal) if the set lacks it.
  uint32_t index_of(std::string_view variant) const;
  VkPipeline pipeline(uint32_t index) const { return pipelines_[index]; }
  const std::string& name(uint32_t index) const { return names_[index]; }
  size_t size() const { return pipelines_.size(); }

  // Shape words a dispatch of generic pipeline `index` specializes on
  // (0: its family has none).
  uint32_t shape_constant_count(uint32_t index) const { return shape_counts_[index]; }
  // The slot specialized to `words` (the dispatch's leading push-constant
  // words), registered on first use. Not thread-safe: called by the
  // context's execute thread only. The pointer stays valid for the set's
  // lifetime.
  SpecializedPipeline* specialized(uint32_t index, std::span<const uint32_t> words);
  // Compiles `slots` (those not queued elsewhere), spread over threads;
  // stops early when `cancel` is raised. A failed
  // compile is logged and counted, never thrown. Thread-safe.
  void compile(std::span<SpecializedPipeline* const> slots, const rts_cache_store* cache,
               PipelineCounters& counters, const std::atomic<bool>* cancel = nullptr);

  // Creates at once, spread over threads, those of `slots` that the
  // runtime cache holds (from a warm blob: ~0.1-1 ms each, so a lazy plan
  // starts specialized on a warm cache); the others stay registered for
  // compile(). Called from the execute thread.
  void create_cached(std::span<SpecializedPipeline* const> slots, const rts_cache_store* cache,
                     PipelineCounters& counters);

  // Registered specialized pipelines not compiled (or failed) yet.
  // Thread-safe.
  uint64_t specializations_pending() const {
    return registered_.load(std::memory_order_relaxed) - finished_.load(std::memory_order_relaxed);
  }

  // The runtime-cache key of `variant` on `device`, specialized to `words`
  // when non-empty.
  static std::string cache_key(const Device& device, std::string_view variant,
                               std::span<const uint32_t> words = {});

 private:
  // A validated pipeline-cache blob for `key`, counting the hit, miss or
  // rejection; nullopt without one.
  std::optional<std::vector<uint8_t>> cached_seed(const std::string& key,
                                                  const rts_cache_store* cache,
                                                  PipelineCounters& counters) const;
  // `cache_checked`: the cache was already asked, and `seed` is its answer.
  VkPipeline create(std::string_view variant, std::span<const uint32_t> words,
                    const rts_cache_store* cache, PipelineCounters& counters,
                    bool cache_checked = false,
                    std::optional<std::vector<uint8_t>> seed = std::nullopt) const;

  Device& device_;
  std::vector<std::string> names_;
  std::vector<VkPipeline> pipelines_;
  std::vector<uint32_t> shape_counts_;
  // Stable addresses: background compiles hold pointers into it.
  std::deque<SpecializedPipeline> specialized_;
  std::map<std::vector<uint32_t>, SpecializedPipeline*> specialized_by_key_;
  std::atomic<uint64_t> registered_{0};
  std::atomic<uint64_t> finished_{0};
};

}  // namespace rtscope::vulkan
