// What the plugin knows about each physical device before creating a
// logical one: properties, the limits kernels must respect, optional
// features, the workgroup sizes chosen from those limits, and the stable
// fingerprint that keys cache entries. Also the device order the plugin
// exposes: the RTSCOPE_VULKAN_DEVICE choice, else the preferred kind
// (discrete > integrated > virtual > CPU), is plugin device 0, which is
// where the host builds engines.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

#include "instance.hpp"
#include "kernels/skinny_product.hpp"
#include "rtscope/plugin_abi.h"
#include "shader_interface.hpp"

namespace rtscope::vulkan {

struct DeviceCaps {
  uint32_t api_version = 0;
  uint32_t subgroup_size = 0;
  // Subgroup arithmetic (subgroupAdd) in compute shaders: linear weights
  // are then stored transposed for the matvec_t decode shader (engine.hpp).
  bool subgroup_arithmetic = false;
  // Weight rows per workgroup of matvec_t's split-K path for batched rows
  // (spec constant 1; RTSCOPE_VULKAN_MATVEC_SPLIT): 0 where the device has
  // no subgroup shuffles or subgroups of fewer than 8 lanes, or when the
  // variable turns it off.
  uint32_t matvec_split_rows = 0;
  // Rows of A per pass of that path over its weight rows (spec constant 2;
  // RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS).
  uint32_t matvec_split_block_rows = kMatvecSplitBlockRows;
  // Slots of K per invocation a team of that path aims at (spec constant
  // 3; RTSCOPE_VULKAN_MATVEC_TEAM_SLOTS; 0: one team per workgroup).
  uint32_t matvec_team_slots = kMatvecTeamSlots;
  // The same for products of up to kMatvecFewRows rows (spec constant 4;
  // RTSCOPE_VULKAN_MATVEC_FEW_ROW_TEAM_SLOTS).
  uint32_t matvec_few_row_team_slots = kMatvecFewRowTeamSlots;
  // The fewest workgroups a split-K product alone in its batch aims to
  // fill, in larger teams where it is narrow (spec constant 5;
  // RTSCOPE_VULKAN_MATVEC_MIN_GROUPS; 0: no bound).
  uint32_t matvec_min_groups = kMatvecSplitMinGroups;
  // Whether a split-K team of one subgroup syncs with a subgroup barrier
  // instead of the workgroup's (spec constant 6;
  // RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS=1; off by default).
  bool matvec_solo_teams = false;
  // Whether engines fold rmsnorm gains into the transposed weights of the
  // projections after them (Engine::fold_norm_gains;
  // RTSCOPE_VULKAN_FOLD_NORM_GAINS=0 turns it off, to compare).
  bool fold_norm_gains = true;
  // Whether a projection running matvec_t (or skinny_coop) writes the KV
  // cache rows of a kv_cache_update after it itself (ExecutionPlan;
  // RTSCOPE_VULKAN_FUSE_CACHE_WRITES=0 turns it off, to compare).
  bool fuse_cache_writes = true;
  // Whether split attention combines each row's blocks in its partial pass
  // (the last block of a row to finish does) instead of in a pass of its
  // own (RTSCOPE_VULKAN_FUSE_ATTENTION_COMBINE=0, to compare).
  bool fuse_attention_combine = true;
  // Whether an argmax over a projection's f16 output runs inside the
  // projection's matvec_t dispatch (ExecutionPlan::fuse_argmaxes;
  // RTSCOPE_VULKAN_FUSE_ARGMAX=0 turns it off, to compare).
  bool fuse_argmax = true;
  // Whether a split attention waits for a counter of the matvec_t batch
  // it depends on (its q, k and v projections) instead of a barrier
  // (CommandList::enable_chaining, shaders/chain.glsl;
  // RTSCOPE_VULKAN_CHAIN).
  bool chain_batches = false;
  // RTSCOPE_VULKAN_DIAG_CHAIN_STALL=1: every chained wait is for one
  // workgroup more than its batch has, so each gives up (a test of the
  // stall word and the error it raises).
  bool chain_stall_diagnostic = false;
  // The most workgroups a matvec_t dispatch runs; they loop over the rest
  // of its task groups (0: one workgroup per task group;
  // RTSCOPE_VULKAN_MATVEC_GROUPS).
  uint32_t matvec_groups = kMatvecMaxGroups;
  // Invocations per matvec_t workgroup (spec constant 0): the row shaders'
  // (rows_workgroup) unless RTSCOPE_VULKAN_MATVEC_WORKGROUP sets it. Fewer
  // per workgroup let an SM hold a workgroup more where registers, not
  // invocations, bound how many it holds.
  uint32_t matvec_workgroup = 0;
  uint32_t max_shared_memory = 0;         // maxComputeSharedMemorySize
  uint32_t max_push_constants = 0;        // maxPushConstantsSize
  uint64_t max_storage_range = 0;         // maxStorageBufferRange
  uint64_t max_allocation = 0;            // maxMemoryAllocationSize
  uint32_t max_group_count[3] = {};       // maxComputeWorkGroupCount
  uint64_t storage_offset_alignment = 0;  // minStorageBufferOffsetAlignment
  // storageBuffer16BitAccess: f16 tensors live on the device as f16.
  // Without it they are stored as f32 and converted while staging.
  bool storage_16bit = false;
  bool storage_8bit = false;                  // bool tensors in data-movement ops
  bool storage_8bit_needs_extension = false;  // device < 1.2: enable VK_KHR_8bit_storage
  // The Vulkan memory model (Vulkan 1.2) and its device scope. Both are
  // enabled wherever the device has them: cooperative matrices need the
  // model, and once it is on, a shader using Device scope (split
  // attention's combining block: its atomic counter and buffer barrier)
  // needs the device scope too (VUID-RuntimeSpirv-vulkanMemoryModel-06265).
  bool memory_model = false;
  bool memory_model_device_scope = false;
  // shaderFloat16 (Vulkan 1.2) with 16-bit storage: f16 arithmetic in
  // shaders, enabled on the logical device only where a variant needs it.
  bool shader_float16 = false;
  // Whether f16 linears run matvec_t_f16math, whose split-K path multiplies
  // in f16 (RTSCOPE_VULKAN_F16_PRODUCTS=1, where shader_float16 holds; off
  // by default).
  bool f16_products = false;
  // Whether pipelines are created with their statistics captured and
  // logged (RTSCOPE_VULKAN_PIPELINE_STATS=1, where
  // supports_pipeline_statistics holds; off by default).
  bool pipeline_statistics = false;
  uint32_t queue_family = 0;  // a family with compute (and therefore transfer)
  // Device timestamps on that queue (timestampValidBits; 0: none) and the
  // nanoseconds per tick (timestampPeriod), for the gpu_time_ns counter.
  uint32_t timestamp_bits = 0;
  double timestamp_period_ns = 0;
  // Workgroup sizes chosen from the limits (specialization constants).
  uint32_t linear_workgroup = 0;  // 1-D grid-stride shaders
  uint32_t rows_workgroup = 0;    // row shaders; a power of two
  uint32_t tile_x = 0;            // matmul tile threads
  uint32_t tile_y = 0;
  uint32_t tile_regs = 4;  // outputs per thread along each tile axis
  // VK_NV_cooperative_matrix with the shape matmul_coop.comp needs (see
  // coop_matrix.hpp); when false, why not (for the device log line).
  bool coop_matrix_f16 = false;
  std::string coop_matrix_note;
  // Which shader runs skinny f16 linears where both could
  // (RTSCOPE_VULKAN_SKINNY, kernels/skinny_product.hpp).
  SkinnyMode skinny = SkinnyMode::kAuto;
  // The build of skinny_coop.comp those linears run
  // (RTSCOPE_VULKAN_SKINNY_COOP, kSkinnyCoopBuilds); static storage.
  const SkinnyCoopBuild* skinny_coop = &kSkinnyCoopFallbackBuild;
};

struct PhysicalDevice {
  VkPhysicalDevice handle = VK_NULL_HANDLE;
  uint32_t enumeration_index = 0;  // position in vkEnumeratePhysicalDevices
  VkPhysicalDeviceProperties properties{};
  VkPhysicalDeviceMemoryProperties memory{};
  DeviceCaps caps;
  // "vulkan/<vendorID hex>/<deviceID hex>/<driverVersion>/<pipelineCacheUUID hex>"
  std::string fingerprint;
  rts_device_info info{};
};

// Whether `device` offers device extension `name`.
bool has_device_extension(VkPhysicalDevice device, const char* name);

// Whether `device` has VK_KHR_pipeline_executable_properties with its
// pipelineExecutableInfo feature: the driver reports what it compiled
// (pipeline_statistics.hpp). Asked only when RTSCOPE_VULKAN_PIPELINE_STATS
// is set, so that plugin load does not pay for it otherwise.
bool supports_pipeline_statistics(VkPhysicalDevice device);

// Usable devices (Vulkan 1.1 or newer with a compute queue), in the order
// the plugin exposes them. `selection` is RTSCOPE_VULKAN_DEVICE (index in
// enumeration order, or a case-insensitive substring of the name; NULL or
// empty: automatic). `allow_16bit_storage` false forces f16 through f32
// (RTSCOPE_VULKAN_F16_STORAGE=0). Throws Error starting "no Vulkan device:"
// when there is none, and naming every device when `selection` matches none.
std::vector<PhysicalDevice> list_devices(const Instance& instance, const char* selection,
                                         bool allow_16bit_storage, const LogFn& log);

const char* device_type_name(VkPhysicalDeviceType type);

}  // namespace rtscope::vulkan
