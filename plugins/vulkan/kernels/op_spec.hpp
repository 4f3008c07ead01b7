// What the Vulkan plugin knows about each op: the shader family that runs
// it, how a node becomes dispatches, and the kernel's own limits. Arity,
// attributes, dtype rules and shape inference come from the op schema
// (rtscope/op_schema.hpp), shared with the host, through the kit's
// OpTable. Each kernels/*.cpp file defines the specs of one group of ops.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "buffer.hpp"
#include "command_list.hpp"
#include "error.hpp"
#include "kit_names.hpp"
#include "physical_device.hpp"
#include "rtscope/kit/op_table.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

// A tensor as a node's encoder sees it: its storage dtype on the device
// (f16 is f32 there when the device lacks 16-bit storage), its dims and the
// device range that holds it (row-major, contiguous).
// Elements of `dtype` in the 16-byte vectors the row shaders load (VEC in
// vec16.glsl).
inline uint32_t vector_elements(rts_dtype dtype) {
  return 16 / static_cast<uint32_t>(dtype_size(dtype));
}

struct TensorArg {
  rts_dtype dtype = RTS_DTYPE_F32;
  std::span<const int64_t> dims;
  BufferRegion region;
  // A rank-2 constant stored transposed ([dims[1], dims[0]] row-major);
  // only `linear` weights are (Engine::transpose_linear_weights).
  bool transposed = false;
  // A constant of ones on the device: a norm gain folded into the weights
  // of the projections reading its norm (Engine::fold_norm_gains).
  bool ones = false;

  int64_t elements() const { return element_count(dims); }
  int rank() const { return static_cast<int>(dims.size()); }
  int64_t dim(int axis) const { return dims[axis < 0 ? axis + rank() : axis]; }
};

struct EncodeArgs {
  const NodeDesc& node;
  std::span<const TensorArg> inputs;
  std::span<const TensorArg> outputs;
  // The node's shader variants in the context's PipelineSet: [0] for
  // OpSpec::shader, [1] for OpSpec::alternate_shader.
  std::span<const uint32_t> pipelines;
  const DeviceCaps& caps;
  CommandList& commands;
  // Set when the plan fused `y = out + residual` into this node (see
  // OpSpec::runs_matvec_t): the encoder adds it to its result.
  const TensorArg* residual = nullptr;
  // Set when the plan fused the rmsnorm producing input 0 into this node:
  // input 0 is the norm's input, normalized per row with this gain.
  const TensorArg* row_norm_gain = nullptr;
  float row_norm_eps = 0;
  // Set when the plan fused y = silu(this) * (input 0 · up) into this
  // node: the up projection's weight, laid out like input 1.
  const TensorArg* gated_up = nullptr;
  // Device memory of at least OpSpec::scratch_bytes for the encoder's own
  // dispatches to pass partial results through; nullptr when it asked
  // for none.
  const BufferRegion* scratch = nullptr;
  // Set when the plan fused a rope of this node's output, the
  // kv_cache_update of it, or both, the output viewed as [B, seq, heads,
  // head_dim]: the one position they read and what each needs.
  struct Heads {
    const TensorArg* pos = nullptr;
    uint32_t head_dim = 0;
    uint32_t seq = 0;
    bool rope = false;
    float log2_base = 0;  // rope
    // Cache write (kMatmulCacheWrite): the output is then the cache
    // [B, heads, cache_len, head_dim], written at the position; 0: none.
    uint32_t cache_len = 0;
  };
  Heads heads;
  // Set when the plan fused an argmax over the last axis of this node's
  // output into it (kMatmulArgmax): where the indices go, and the state
  // of kMatvecArgmaxStateBytes the dispatch counts and compares in.
  struct Argmax {
    const TensorArg* out = nullptr;
    BufferRegion state{};
  };
  Argmax argmax;
  // No other node of the plan runs in this node's dependency level, so its
  // dispatches have their batch (the stretch between two barriers) to
  // themselves: a narrow product may then spread over the device
  // (kMatmulSpreadTeams).
  bool alone_in_level = false;
};

// Appends the node's commands. Nothing is recorded yet: the plan keeps the
// list and replays it into a command buffer on every execute.
using EncodeFn = void (*)(const EncodeArgs& args);

// How the variant suffix of the node's shader is chosen.
enum class ShaderKind : uint8_t {
  kNone,   // no shader: the output views the input (reshape)
  kFloat,  // _f32 or _f16 from the node's float dtype on the device
  kRaw,    // _b32, _b16 or _b8 from the element size of input 0 on the device
  kFixed,  // one module for every dtype (cast): the shader name as it is
};

struct OpSpec {
  const char* op;  // a name of the op schema
  EncodeFn encode;
  const char* shader;  // family, e.g. "matmul"; nullptr with kNone
  ShaderKind shader_kind;
  const char* kernel_name;  // static; reported by query_node
  // The output holds input 0's bytes unchanged (reshape): the plan points
  // it at the input's range and nothing runs.
  bool output_views_input = false;
  // A second family the encoder picks for some shapes (matvec for
  // matmul with few rows); nullptr: none.
  const char* alternate_shader = nullptr;
  // An f16-only family on tensor cores, added as the third variant when the
  // device has cooperative matrices (DeviceCaps::coop_matrix_f16) and the
  // node computes in f16; nullptr: none.
  const char* coop_matrix_shader = nullptr;
  // Data-dependent ops (nonzero, masked_select): nullptr when the output
  // shape always follows from the input shapes. When it returns true for
  // a node, infer_output_dims gives the worst case (every element selected) and the
  // kernel writes the real count of rows first; the engine then runs as
  // segments (segments.hpp) so that the exact output is allocated after
  // the node ran.
  bool (*data_dependent)(const NodeDesc& node) = nullptr;
  // The kernel name query_node reports for nodes of a data-dependent op
  // whose output is static (nullptr: `kernel_name`).
  const char* static_kernel_name = nullptr;
  // When set and true for the node's concrete input dims, the output is a
  // view of input 0 for that plan and nothing runs (a transpose that only
  // moves axes of size 1, as in a decode step's [B, 1, H, D] -> [B, H, 1, D]).
  bool (*views_input_for)(const NodeDesc& node, const Dims& input) = nullptr;
  // When set: whether the node runs matvec_t for its concrete input dims
  // (and whether its weight, input 1, is stored transposed). Such a node
  // can take in its neighbours (ExecutionPlan): an rmsnorm whose output
  // only projections read, and an `add` of a same-shape tensor that is
  // the only reader of its output (EncodeArgs::row_norm, ::residual), so
  // a decode step's norms and residual connections cost no dispatch and
  // no barrier of their own.
  bool (*runs_matvec_t)(std::span<const Dims* const> inputs, bool weight_transposed) = nullptr;
  // The kernel reads the op's any-dtype inputs as float data (argmax):
  // other dtypes are unsupported here.
  bool float_data_only = false;
  // Shapes the schema accepts but the kernel cannot run (nullptr: none);
  // throws via fail_node.
  void (*check_kernel_shapes)(const NodeDesc& node, std::span<const Dims* const> inputs) = nullptr;
  // Scratch bytes the encoder needs for the node's concrete input dims
  // (nullptr or 0: none). A plan gives its nodes one shared buffer of the
  // largest size (EncodeArgs::scratch): nodes that use it are ordered by
  // the barriers its writes bring.
  uint64_t (*scratch_bytes)(std::span<const Dims* const> inputs, const DeviceCaps& caps) = nullptr;
  // Bytes at the start of that scratch the node needs zero when it runs
  // and leaves zero (counters; nullptr or 0: none): the plan zeroes the
  // largest such prefix once at the start of every execute.
  uint64_t (*scratch_zeroed_bytes)(std::span<const Dims* const> inputs,
                                   const DeviceCaps& caps) = nullptr;
};

// The spec of a kernel whose only optional property is a check of the
// shapes it can run: `encode` dispatching the variant of `shader` that
// `kind` picks.
constexpr OpSpec shader_kernel(
    const char* op, EncodeFn encode, const char* shader, ShaderKind kind, const char* kernel_name,
    void (*check_kernel_shapes)(const NodeDesc& node,
                                std::span<const Dims* const> inputs) = nullptr) {
  return {.op = op,
          .encode = encode,
          .shader = shader,
          .shader_kind = kind,
          .kernel_name = kernel_name,
          .check_kernel_shapes = check_kernel_shapes};
}

// The specs of one family of ops, defined in its kernels/*.cpp file (not
// const: GCC gives a const variable template specialization internal linkage).
template <kit::OpFamily family>
extern std::span<const OpSpec> kOpSpecs;

// The plugin's kernels by op, with the schema's checks of a node
// (kernels/op_table.cpp).
const kit::OpTable<OpSpec>& op_table();

// Empty when the device can run the node with these input dtypes (as
// declared in the graph), else the reason.
std::string check_device_support(const OpSpec& spec, std::span<const rts_dtype> inputs,
                                 const DeviceCaps& caps);
// How a graph dtype is stored on a device: f16 becomes f32 without
// 16-bit storage (converted while staging).
rts_dtype device_dtype(rts_dtype dtype, const DeviceCaps& caps);
// The shader variants a node may run, e.g. {"matmul_f16", "matvec_f16"}
// (primary first); empty for kNone. `inputs` are the graph dtypes of the
// node's inputs.
std::vector<std::string> shader_variants(const OpSpec& spec, std::span<const rts_dtype> inputs,
                                         const DeviceCaps& caps);

// Encoders shared by several op families (kernels/elementwise.cpp):
// binary.comp with broadcasting, unary.comp by the node's op.
void encode_binary(const EncodeArgs& args);
void encode_unary(const EncodeArgs& args);
// copy.comp (kernels/shape_ops.cpp): copies the index space `dims` from `in`
// (strides, offset; a stride may be 0 to broadcast) to `out`, elements of
// `dtype`.
void dispatch_copy(const EncodeArgs& args, rts_dtype dtype, std::vector<int64_t> dims,
                   std::vector<int64_t> in_strides, std::vector<int64_t> out_strides,
                   int64_t in_offset, int64_t out_offset, const BufferRegion& in,
                   const BufferRegion& out);
// softmax.comp and log_softmax.comp (kernels/reductions.cpp): one
// workgroup per lane of input 0 viewed as [outer, axis, inner] (same push).
void encode_softmax_lanes(const EncodeArgs& args);
// index_map.comp (kernels/select_ops.cpp): pad, trilu or gather_elements
// by the node's op.
void encode_index_map(const EncodeArgs& args);
// RAW shader elements per tensor element (8-byte ones move as two words).
int64_t units_per_element(rts_dtype dtype);

// Helpers shared by the encoders.
// Workgroups for a 1-D grid-stride shader over `count` items (at least 1,
// at most maxComputeWorkGroupCount[0]; the shader loops over the rest).
Groups linear_groups(uint64_t count, const DeviceCaps& caps);
// One workgroup per row, grid-stride beyond maxComputeWorkGroupCount[0].
Groups row_groups(uint64_t rows, const DeviceCaps& caps);
// Throws unless `value` fits the 32-bit index arithmetic of the shaders.
uint32_t to_u32(const NodeDesc& node, uint64_t value, const char* what);

}  // namespace rtscope::vulkan
