// An execution plan: everything about an execute that depends only on the
// concrete input shapes. It holds the dims of every value, the device range
// of each (constants in the engine; inputs, intermediates and outputs in
// buffers the plan owns, reused between values whose lifetimes do not
// overlap), where each staged input and output sits in the plan's staging
// buffer, the commands with their barriers and descriptor sets, and the
// host-side checks of data-dependent arguments. A context keeps one plan
// per input-shape signature and device binding, so a steady-state execute
// allocates nothing; under whole_graph capture it also records the commands
// once and replays them (context.hpp).
//
// Bindings in device memory (device_alloc) are used in place: an input is
// read from its device range, an output aliased onto such an input (a KV
// cache updated in place) is written there, and any other device-resident
// output gets a device-to-device copy at the end. Only host bindings go
// through the staging buffer; a small host output is computed there
// directly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "allocator.hpp"
#include "command_list.hpp"
#include "dispatch_profile.hpp"
#include "kit_names.hpp"
#include "rtscope/kit/error.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

class Engine;
class PipelineSet;
struct SpecializedPipeline;

// A host binding copied through the staging buffer.
struct StagedTensor {
  uint32_t binding = 0;  // engine input or output index
  uint32_t value = 0;
  VkDeviceSize staging_offset = 0;
  size_t elements = 0;
  rts_dtype host_dtype = RTS_DTYPE_F32;
  rts_dtype device_dtype = RTS_DTYPE_F32;
  // An output its dispatch writes into the staging buffer itself, or an
  // input read there (no copy).
  bool direct = false;

  VkDeviceSize bytes() const { return elements * dtype_size(device_dtype); }
};

// A data-dependent argument the shaders cannot reject, checked on the host
// before submitting when it is an engine input: a position against a cache
// length, or ids against a vocabulary.
struct HostCheck {
  enum class Kind : uint8_t { kPosition, kIds };
  Kind kind = Kind::kPosition;
  const NodeDesc* node = nullptr;
  uint32_t input = 0;         // engine input index holding pos or ids
  int64_t steps = 0;          // kPosition: require 0 <= pos and pos + steps <= limit
  int64_t limit = 0;          // cache length, or vocabulary size for kIds
  std::vector<int64_t> dims;  // for messages
};

// Where each engine input and output is bound when the caller passed
// device memory (nullopt: a host binding, staged).
struct DeviceBindings {
  std::vector<std::optional<BufferRegion>> inputs;
  std::vector<std::optional<BufferRegion>> outputs;
};

struct ExecutionPlan {
  std::vector<Dims> dims;             // per value id
  std::vector<BufferRegion> regions;  // per value id
  std::vector<Allocation> buffers;    // device-local, owned
  Allocation staging;                 // host-visible, owned
  std::vector<StagedTensor> staged_inputs;
  std::vector<StagedTensor> staged_outputs;
  std::vector<HostCheck> checks;
  CommandList commands;
  uint64_t in_place_updates = 0;      // kv_cache_update nodes updating the cache in place
  uint64_t fused_residual_adds = 0;   // adds run inside the projection before them
  uint64_t fused_row_norms = 0;       // rmsnorms run inside the projections after them
  uint64_t fused_ropes = 0;           // ropes run inside the projection before them
  uint64_t fused_cache_writes = 0;    // kv_cache_updates written by the projection before them
  uint64_t fused_gated_products = 0;  // silu(gate) * up groups run as one projection
  uint64_t fused_argmaxes = 0;        // argmaxes computed by the projection before them
  uint64_t skinny_coop_products = 0;  // linears run on skinny_coop.comp (tensor cores)
  uint64_t f16_math_products = 0;     // linears run on matvec_t_f16math (f16 products)
  uint64_t spread_products = 0;       // narrow products alone in their batch, larger teams
  uint64_t staged_in_bytes = 0;
  uint64_t staged_out_bytes = 0;
  // Where in `staging` the stall word of chained waits is
  // (CommandList::enable_chaining).
  VkDeviceSize stall_word_offset = 0;
  // The commands recorded once for whole_graph replay; owned by the
  // context's command pool (VK_NULL_HANDLE: not recorded yet).
  VkCommandBuffer recorded = VK_NULL_HANDLE;
  // Shape-specialized pipelines the commands use (kernel_specialization
  // eager or lazy; empty under none), and what the last recording ran.
  std::vector<SpecializedPipeline*> specialized;
  DispatchMix mix;
  // Lazy: the background compile of `specialized` is still to be started.
  bool compile_pending = false;
  // Device time of the last submit (0: not timed), which sets how long the
  // next one polls its fence before blocking (context.cpp).
  uint64_t last_gpu_ns = 0;
  // Timestamps per barrier batch under RTSCOPE_VULKAN_PROFILE, else null.
  std::unique_ptr<PlanProfile> profile;
};

// Infers every shape from `input_dims` (one per engine input), places every
// value, allocates the plan's buffers, encodes the nodes with `pipelines`
// and finalizes the commands. Throws Error naming the node and shapes.
std::unique_ptr<ExecutionPlan> build_plan(const Engine& engine, std::span<const Dims> input_dims,
                                          const DeviceBindings& device_bindings,
                                          const PipelineSet& pipelines);

}  // namespace rtscope::vulkan
