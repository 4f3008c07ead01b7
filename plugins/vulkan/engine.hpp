// An engine: a validated copy of one partition, resolved into value ids,
// op specs and shader variants, with its constants (weights) uploaded to
// device-local memory once: allocated at build and written on a thread of
// its own that the build leaves running (upload_thread.hpp), so that
// contexts are made and plans built meanwhile; a context's first submit
// waits for it. Immutable after construction otherwise, so any number of
// contexts and threads may share it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "allocator.hpp"
#include "kernels/op_spec.hpp"
#include "kit_names.hpp"
#include "rtscope/kit/backend.hpp"
#include "rtscope/kit/resolved_graph.hpp"
#include "rtscope/plugin_abi.h"
#include "segments.hpp"
#include "shared_constants.hpp"
#include "upload.hpp"
#include "upload_thread.hpp"

namespace rtscope::vulkan {

class Device;
class VulkanPlugin;

using kit::ValueRole;

struct EngineValue : kit::ResolvedValue {
  // `dtype` as the device stores it.
  rts_dtype device_dtype = RTS_DTYPE_F32;
  // A constant stored transposed on the device (transpose_linear_weights).
  bool transposed = false;
  // A norm gain folded into the weights of the projections reading its
  // norm (fold_norm_gains): the device holds ones in its place.
  bool unit_gain = false;
  // A linear weight those gains scale on upload, row k (its K axis) by
  // gain k: an index into Engine::folded_gains_, or -1.
  int32_t scaled_by = -1;
};

struct EngineNode : kit::ResolvedNode {
  const OpSpec* spec = nullptr;
  // Variants the node may run, e.g. {"matmul_f16", "matvec_f16"}; empty:
  // nothing runs (a view).
  std::vector<std::string> shaders;
};

// The engine is its resolved graph (values(), nodes(), input_values(),
// output_values(), aliases(), find_value()) plus what the device adds.
class Engine : public kit::Engine, public kit::ResolvedGraph<EngineValue, EngineNode> {
 public:
  // Validates `graph` (op support on the device, names, topological order,
  // dtypes, aliases, and shapes when every input is static), then opens
  // the device and uploads the constants. Throws Error naming the node,
  // value and types involved.
  Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph);
  // A piece of a segmented engine (segments.hpp): runs as one plan even
  // when it ends with a data-dependent node.
  struct AsSegment {};
  static constexpr AsSegment kSegment{};
  Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, AsSegment);
  ~Engine() override;

  VulkanPlugin& plugin() const { return plugin_; }
  Device& device() const { return *device_; }
  const GraphDesc& graph() const override { return ResolvedGraph::graph(); }
  // The shader variants the nodes run, each once: what a context creates
  // pipelines for.
  const std::vector<std::string>& shader_variants() const { return shader_variants_; }
  // Device range of constant `index`.
  BufferRegion constant_region(uint32_t index) const {
    return constants_[index]->allocation().region();
  }

  // Dims of every value for concrete input dims (one per engine input);
  // checks them against the declarations. Throws Error naming the node.
  std::vector<Dims> infer_shapes(std::span<const Dims> input_dims) const;

  void fill_info(rts_engine_info& info) const override;
  std::unique_ptr<kit::Context> create_context(const rts_runtime_settings* settings) const override;

  // Non-empty when the graph has data-dependent nodes: the engine then runs
  // as these segments, in order (segments.hpp), and has no constants or
  // pipelines of its own.
  const std::vector<Segment>& segments() const { return segments_; }

  // What uploading the constants cost: allocating device memory for them
  // and writing them (zero for a segmented engine, whose segments upload
  // their own). `transfer` stays zero while a background upload runs.
  struct UploadReport {
    uint64_t alloc_ns = 0;
    UploadStats transfer;
    bool overlapped = false;  // written on a thread of its own (upload_thread.hpp)
    // Bytes of device copies this engine shares with another engine that
    // uploaded them first (shared_constants.hpp): neither allocated nor
    // written here.
    uint64_t shared_bytes = 0;
  };
  UploadReport upload_report() const;

  // Blocks until the constants are on the device (they are written after
  // the build returns unless RTSCOPE_VULKAN_UPLOAD_OVERLAP=0) and returns
  // how long this call waited. A background upload that failed is run
  // again in line, once, with a warning; a failed retry throws Error
  // naming the engine, on every call. Constants shared with an engine
  // that uploads them are waited for too, and written here when that
  // upload failed. Thread-safe.
  uint64_t wait_for_constants() const;

  // True exactly once: for the first execute of any of the engine's
  // contexts that stages host memory (which then says so in the log).
  bool first_staging() const { return !staging_reported_.exchange(true); }

  // Norm gains folded into projection weights (fold_norm_gains).
  uint64_t folded_norm_gains() const { return folded_gains_.size(); }

 private:
  Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, bool segment);
  void split_into_segments();
  // Stores rank-2 constants that only `linear` nodes read as their weight
  // as [N, K] on devices with subgroup arithmetic, and gives those nodes
  // the matvec_t shader: a decode step then reads each output column's
  // weights contiguously. Prefill rows run the tiled shader with
  // transpose_b. Skipped where K does not fill 16-byte vectors. On devices
  // with cooperative matrices f16 linears also get skinny_coop_f16 (unless
  // RTSCOPE_VULKAN_SKINNY=matvec), which the encoder picks for the shapes
  // it covers.
  void transpose_linear_weights();
  // y = rmsnorm(x, g) · W = rmsnorm(x, 1) · (g ⊙ W): where a constant gain
  // g [K] belongs to rmsnorms whose outputs only transposed linear weights
  // [K, N] read (and those weights nothing else), the device holds ones
  // for g and g ⊙ W for each W, written so on upload. The projections
  // that take the norm in (ExecutionPlan) then skip the gain
  // (kMatmulUnitGain), and an unfused norm multiplies by ones. Off with
  // RTSCOPE_VULKAN_FOLD_NORM_GAINS=0 (DeviceCaps::fold_norm_gains).
  void fold_norm_gains();
  void collect_shader_variants();
  void upload_constants();
  // The constant's device copy: a live one another engine on the device
  // holds, or a new one in mapped memory while `direct` has room (it is
  // cleared once full), else device-local.
  ConstantPool::Share place_constant(const ConstantDesc& constant, const ConstantKey& key,
                                     size_t bytes, BlockAllocator*& direct);
  // Runs the upload of the constants this engine created and marks them
  // written, or failed when it throws.
  UploadStats upload_created() const;
  uint64_t wait_for_shared_constants() const;

  VulkanPlugin& plugin_;
  uint32_t device_index_;
  const DeviceCaps& caps_;
  Device* device_ = nullptr;
  std::vector<std::string> shader_variants_;
  // Each folded gain: its host bytes (what tells shared copies apart) and
  // its values in f32, for the uploads that scale weights by it.
  struct FoldedGain {
    const void* source = nullptr;
    std::vector<float> scale;
  };
  std::vector<FoldedGain> folded_gains_;
  // One per constant, in the graph's order; created here or shared.
  std::vector<std::shared_ptr<SharedConstant>> constants_;
  // Indices into constants_ of those this engine uploads (upload_items_
  // holds what writing them takes), and of those it shares with the engine
  // uploading them, with what writing each would take here.
  std::vector<size_t> created_;
  struct SharedUse {
    size_t index;
    UploadItem item;
  };
  std::vector<SharedUse> shared_;
  mutable std::atomic<bool> shared_written_{false};
  std::vector<Segment> segments_;
  UploadReport upload_stats_;
  // What the background upload reads: one item per created constant.
  std::vector<UploadItem> upload_items_;
  // The background upload (null: done during the build). Declared after
  // the constants so that it is joined before they are freed.
  std::unique_ptr<UploadThread> upload_thread_;
  mutable std::atomic<bool> staging_reported_{false};
};

}  // namespace rtscope::vulkan
