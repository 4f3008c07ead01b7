#include "pipelines.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "device.hpp"
#include "error.hpp"
#include "pipeline_cache.hpp"
#include "pipeline_statistics.hpp"
#include "rtscope/kit/parallel_for.hpp"
#include "rtscope/kit/settings.hpp"
#include "shader_interface.hpp"
#include "shader_registry.hpp"

namespace rtscope::vulkan {
namespace {

// Specialization constants of a variant on a device (ids 0 to count - 1).
struct Specialization {
  uint32_t values[7] = {0, 0, 0, 0, 0, 0, 0};
  uint32_t count = 1;
  std::string label;  // for the cache key
};

Specialization specialization_for(const DeviceCaps& caps, std::string_view variant) {
  Specialization spec;
  switch (workgroup_shape(shader_family(variant))) {
    case WorkgroupShape::kLinear:
      spec.values[0] = caps.linear_workgroup;
      spec.label = str_cat("wg", caps.linear_workgroup);
      break;
    case WorkgroupShape::kRows: {
      const bool matvec_t = shader_family(variant) == "matvec_t";
      spec.values[0] = matvec_t ? caps.matvec_workgroup : caps.rows_workgroup;
      spec.label = str_cat("wg", spec.values[0]);
      if (matvec_t) {
        spec.values[1] = caps.matvec_split_rows;
        spec.values[2] = caps.matvec_split_block_rows;
        spec.values[3] = caps.matvec_team_slots;
        spec.values[4] = caps.matvec_few_row_team_slots;
        spec.values[5] = caps.matvec_min_groups;
        spec.values[6] = caps.matvec_solo_teams ? 1 : 0;
        spec.count = 7;
        spec.label += str_cat("s", caps.matvec_split_rows, "b", caps.matvec_split_block_rows, "t",
                              caps.matvec_team_slots, "f", caps.matvec_few_row_team_slots, "g",
                              caps.matvec_min_groups, caps.matvec_solo_teams ? "o" : "");
      }
      break;
    }
    case WorkgroupShape::kTiles:
      spec.values[0] = caps.tile_x;
      spec.values[1] = caps.tile_y;
      spec.values[2] = caps.tile_regs;
      spec.count = 3;
      spec.label = str_cat("t", caps.tile_x, "x", caps.tile_y, "r", caps.tile_regs);
      break;
  }
  return spec;
}

// RAII for the per-pipeline objects that only live while compiling.
struct ShaderModule {
  VkDevice device;
  VkShaderModule handle = VK_NULL_HANDLE;
  ~ShaderModule() {
    if (handle != VK_NULL_HANDLE) vkDestroyShaderModule(device, handle, nullptr);
  }
};
struct DriverCache {
  VkDevice device;
  VkPipelineCache handle = VK_NULL_HANDLE;
  ~DriverCache() {
    if (handle != VK_NULL_HANDLE) vkDestroyPipelineCache(device, handle, nullptr);
  }
};

// Pipeline creation is thread-safe in Vulkan and scales with threads on
// every driver measured.
using kit::parallel_for;

// Threads for one batch of pipeline creations.
unsigned creation_threads() { return std::clamp(std::thread::hardware_concurrency(), 1u, 8u); }

std::string words_label(std::span<const uint32_t> words) {
  std::string label = "/s";
  for (size_t i = 0; i < words.size(); ++i) label += str_cat(i == 0 ? "" : "x", words[i]);
  return label;
}

}  // namespace

std::string PipelineSet::cache_key(const Device& device, std::string_view variant,
                                   std::span<const uint32_t> words) {
  const ShaderBlob& blob = find_shader(variant);
  return str_cat("pipeline/v1/", variant, "/", blob.digest, "/",
                 specialization_for(device.caps(), variant).label,
                 words.empty() ? std::string() : words_label(words));
}

PipelineSet::PipelineSet(Device& device, std::span<const std::string> variants,
                         const rts_cache_store* cache, PipelineCounters& counters)
    : device_(device), names_(variants.begin(), variants.end()) {
  if (cache != nullptr && cache->struct_size < offsetof(rts_cache_store, put) + sizeof(void*)) {
    fail_invalid("rts_cache_store.struct_size ", cache->struct_size, " is too small");
  }
  for (const std::string& variant : names_) {
    shape_counts_.push_back(vulkan::shape_constant_count(shader_family(variant)));
  }
  pipelines_.assign(names_.size(), VK_NULL_HANDLE);
  try {
    parallel_for(names_.size(), creation_threads(),
                 [&](size_t i) { pipelines_[i] = create(names_[i], {}, cache, counters); });
  } catch (...) {
    for (VkPipeline pipeline : pipelines_) {
      if (pipeline != VK_NULL_HANDLE) vkDestroyPipeline(device_.handle(), pipeline, nullptr);
    }
    throw;
  }
}

PipelineSet::~PipelineSet() {
  for (VkPipeline pipeline : pipelines_) vkDestroyPipeline(device_.handle(), pipeline, nullptr);
  for (SpecializedPipeline& slot : specialized_) {
    const VkPipeline pipeline = slot.pipeline.load(std::memory_order_acquire);
    if (pipeline != VK_NULL_HANDLE) vkDestroyPipeline(device_.handle(), pipeline, nullptr);
  }
}

uint32_t PipelineSet::index_of(std::string_view variant) const {
  for (uint32_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == variant) return i;
  }
  fail(RTS_ERROR_INTERNAL, "vulkan: pipeline '", variant, "' was not created for this context");
}

SpecializedPipeline* PipelineSet::specialized(uint32_t index, std::span<const uint32_t> words) {
  std::vector<uint32_t> key{index};
  key.insert(key.end(), words.begin(), words.end());
  auto found = specialized_by_key_.find(key);
  if (found != specialized_by_key_.end()) return found->second;
  SpecializedPipeline& slot = specialized_.emplace_back();
  slot.generic = index;
  slot.words.assign(words.begin(), words.end());
  specialized_by_key_.emplace(std::move(key), &slot);
  registered_.fetch_add(1, std::memory_order_relaxed);
  return &slot;
}

void PipelineSet::compile(std::span<SpecializedPipeline* const> slots, const rts_cache_store* cache,
                          PipelineCounters& counters, const std::atomic<bool>* cancel) {
  std::vector<SpecializedPipeline*> mine;
  for (SpecializedPipeline* slot : slots) {
    int expected = SpecializedPipeline::kRegistered;
    if (slot->state.compare_exchange_strong(expected, SpecializedPipeline::kQueued)) {
      mine.push_back(slot);
    }
  }
  parallel_for(mine.size(), creation_threads(), [&](size_t i) {
    SpecializedPipeline& slot = *mine[i];
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      slot.state.store(SpecializedPipeline::kFailed, std::memory_order_release);
      finished_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    try {
      slot.pipeline.store(
          create(names_[slot.generic], slot.words, cache, counters, slot.cache_checked),
          std::memory_order_release);
      slot.state.store(SpecializedPipeline::kReady, std::memory_order_release);
      finished_.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& error) {
      // The generic pipeline keeps serving these dispatches.
      counters.failed.fetch_add(1, std::memory_order_relaxed);
      slot.state.store(SpecializedPipeline::kFailed, std::memory_order_release);
      device_.log(RTS_LOG_WARN, str_cat("vulkan: shape-specialized pipeline ",
                                        cache_key(device_, names_[slot.generic], slot.words),
                                        " failed (", error.what(), "); the generic one runs"));
      finished_.fetch_add(1, std::memory_order_relaxed);
    }
  });
}

void PipelineSet::create_cached(std::span<SpecializedPipeline* const> slots,
                                const rts_cache_store* cache, PipelineCounters& counters) {
  if (cache == nullptr) return;
  std::vector<SpecializedPipeline*> unchecked;
  for (SpecializedPipeline* slot : slots) {
    if (slot->state.load(std::memory_order_acquire) == SpecializedPipeline::kRegistered &&
        !slot->cache_checked) {
      unchecked.push_back(slot);
    }
  }
  // Even from a warm blob a pipeline takes a driver call of ~0.1-1 ms:
  // spread over threads like the generic ones.
  parallel_for(unchecked.size(), creation_threads(), [&](size_t i) {
    SpecializedPipeline& slot = *unchecked[i];
    const std::string& variant = names_[slot.generic];
    std::optional<std::vector<uint8_t>> seed =
        cached_seed(cache_key(device_, variant, slot.words), cache, counters);
    slot.cache_checked = true;
    if (!seed) return;  // compiled in the background
    slot.state.store(SpecializedPipeline::kQueued, std::memory_order_relaxed);
    try {
      slot.pipeline.store(create(variant, slot.words, cache, counters, true, std::move(seed)),
                          std::memory_order_release);
      slot.state.store(SpecializedPipeline::kReady, std::memory_order_release);
    } catch (const std::exception& error) {
      counters.failed.fetch_add(1, std::memory_order_relaxed);
      slot.state.store(SpecializedPipeline::kFailed, std::memory_order_release);
      device_.log(RTS_LOG_WARN, str_cat("vulkan: shape-specialized pipeline ",
                                        cache_key(device_, variant, slot.words), " failed (",
                                        error.what(), "); the generic one runs"));
    }
    finished_.fetch_add(1, std::memory_order_relaxed);
  });
}

std::optional<std::vector<uint8_t>> PipelineSet::cached_seed(const std::string& key,
                                                             const rts_cache_store* cache,
                                                             PipelineCounters& counters) const {
  std::vector<uint8_t> stored;
  if (cache == nullptr || cache->get == nullptr ||
      kit::cache_get(*cache, device_.fingerprint().c_str(), key, stored) != RTS_OK) {
    counters.cache_misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  std::string reason;
  std::optional<std::vector<uint8_t>> seed =
      decode_pipeline_cache(device_.physical(), key, stored, reason);
  if (seed) {
    counters.cache_hits.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters.cache_rejected.fetch_add(1, std::memory_order_relaxed);
    device_.log(RTS_LOG_WARN, str_cat("vulkan: ignoring runtime-cache entry '", key, "': ", reason,
                                      "; compiling the pipeline from SPIR-V"));
  }
  return seed;
}

VkPipeline PipelineSet::create(std::string_view variant, std::span<const uint32_t> words,
                               const rts_cache_store* cache, PipelineCounters& counters,
                               bool cache_checked, std::optional<std::vector<uint8_t>> seed) const {
  const VkDevice device = device_.handle();
  const ShaderBlob& blob = find_shader(variant);
  const std::string key = cache_key(device_, variant, words);
  const std::string& fingerprint = device_.fingerprint();
  if (!cache_checked) seed = cached_seed(key, cache, counters);
  ShaderModule module{device};
  auto module_info =
      vk_struct<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
  module_info.codeSize = blob.word_count * sizeof(uint32_t);
  module_info.pCode = blob.words;
  check_vk(vkCreateShaderModule(device, &module_info, nullptr, &module.handle),
           str_cat("vkCreateShaderModule (", variant, ")"));

  DriverCache driver_cache{device};
  auto cache_info =
      vk_struct<VkPipelineCacheCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO);
  if (seed) {
    cache_info.initialDataSize = seed->size();
    cache_info.pInitialData = seed->data();
  }
  check_vk(vkCreatePipelineCache(device, &cache_info, nullptr, &driver_cache.handle),
           str_cat("vkCreatePipelineCache (", variant, ")"));

  // Workgroup constants (ids 0..2), then the shape words (ids 8..).
  const Specialization spec = specialization_for(device_.caps(), variant);
  std::vector<uint32_t> values(spec.values, spec.values + spec.count);
  std::vector<VkSpecializationMapEntry> entries;
  for (uint32_t i = 0; i < spec.count; ++i) entries.push_back({i, 0, sizeof(uint32_t)});
  for (size_t i = 0; i < words.size(); ++i) {
    entries.push_back({kShapeConstantBase + static_cast<uint32_t>(i), 0, sizeof(uint32_t)});
    values.push_back(words[i]);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].offset = static_cast<uint32_t>(i * sizeof(uint32_t));
  }
  VkSpecializationInfo specialization{static_cast<uint32_t>(entries.size()), entries.data(),
                                      values.size() * sizeof(uint32_t), values.data()};
  auto info =
      vk_struct<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
  info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = module.handle;
  info.stage.pName = "main";
  info.stage.pSpecializationInfo = &specialization;
  info.layout = device_.pipeline_layout();
  const bool statistics = device_.caps().pipeline_statistics;
  if (statistics) info.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
  VkPipeline pipeline = VK_NULL_HANDLE;
  check_vk(vkCreateComputePipelines(device, driver_cache.handle, 1, &info, nullptr, &pipeline),
           str_cat("vkCreateComputePipelines (", variant, ")"));
  counters.created.fetch_add(1, std::memory_order_relaxed);
  if (statistics) {
    std::string label = str_cat("'", variant, "'");
    if (!words.empty()) {
      label += " specialized to [";
      for (size_t i = 0; i < words.size(); ++i) label += str_cat(i == 0 ? "" : " ", words[i]);
      label += "]";
    }
    for (const std::string& line :
         describe_pipeline_executables(device, pipeline, device_.statistics_queries(), label)) {
      device_.log(RTS_LOG_INFO, line);
    }
  }

  if (cache != nullptr && !seed && cache->put != nullptr) {
    size_t size = 0;
    VkResult result = vkGetPipelineCacheData(device, driver_cache.handle, &size, nullptr);
    std::vector<uint8_t> data(size);
    if (result == VK_SUCCESS && size > 0) {
      result = vkGetPipelineCacheData(device, driver_cache.handle, &size, data.data());
    }
    if (result != VK_SUCCESS) {
      // The pipeline exists; losing its cache entry only costs a compile.
      device_.log(RTS_LOG_WARN, str_cat("vulkan: vkGetPipelineCacheData (", variant,
                                        ") failed: ", vk_result_name(result)));
    } else {
      data.resize(size);
      const std::vector<uint8_t> entry = encode_pipeline_cache(device_.physical(), key, data);
      const rts_status status =
          cache->put(cache->user, fingerprint.c_str(), key.c_str(), entry.data(), entry.size());
      if (status != RTS_OK) {
        device_.log(RTS_LOG_WARN, str_cat("vulkan: the runtime cache refused entry '", key,
                                          "' (status ", static_cast<int>(status), ")"));
      }
    }
  }
  return pipeline;
}

}  // namespace rtscope::vulkan
