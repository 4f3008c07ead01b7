// The compute pipelines of one context, created when the context is (the
// costly JIT step on GPUs). Each pipeline compiles through its own
// VkPipelineCache, seeded from the host's runtime cache when it holds a
// valid blob for (device fingerprint, key) and stored back after a miss.
//
// Key: "pipeline/v1/<variant>/<SPIR-V digest>/<specialization>", e.g.
// "pipeline/v1/matmul_f32/1f3a.../t16x16": a shader or workgroup change
// is a new key, never a stale hit.
//
// Generic (shape-agnostic) pipelines only; shape-specialized variants will
// add specialization constants to the key.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
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
};

class PipelineSet {
 public:
  // `cache` may be NULL (no runtime cache); it is used only during the
  // constructor. Throws Error on a driver failure.
  PipelineSet(Device& device, std::span<const std::string> variants, const rts_cache_store* cache,
              PipelineCounters& counters);
  ~PipelineSet();
  PipelineSet(const PipelineSet&) = delete;
  PipelineSet& operator=(const PipelineSet&) = delete;

  // Index of `variant`; throws Error (internal) if the set lacks it.
  uint32_t index_of(std::string_view variant) const;
  VkPipeline pipeline(uint32_t index) const { return pipelines_[index]; }
  size_t size() const { return pipelines_.size(); }

  // The runtime-cache key of `variant` on `device`.
  static std::string cache_key(const Device& device, std::string_view variant);

 private:
  VkPipeline create(std::string_view variant, const rts_cache_store* cache,
                    PipelineCounters& counters);

  Device& device_;
  std::vector<std::string> names_;
  std::vector<VkPipeline> pipelines_;
};

}  // namespace rtscope::vulkan
