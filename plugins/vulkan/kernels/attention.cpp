// Decoder ops: rope, causal grouped-query attention over a KV cache whose
// Hkv heads each serve H / Hkv query heads (split over key blocks
// with a combine pass when the partials fit a small scratch, else one
// workgroup per query row with an online softmax over key chunks), and
// kv_cache_update. The
// position is read on the device from its i64 buffer, one for every batch
// row (pos [1]) or one per batch row (pos [B]); the host checks each
// against the cache length before submitting (execution_plan.hpp).
#include <cmath>

#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

// Whether `pos` holds one position per batch row ([B], B > 1) rather than
// one for every row.
bool per_batch_row(const TensorArg& pos) { return pos.elements() > 1; }

void encode_rope(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const NodeDesc& node = args.node;
  RopePush push{};
  push.pairs = to_u32(node, x.elements() / 2, "pair count");
  push.seq = to_u32(node, x.dim(1), "sequence length");
  push.heads = to_u32(node, x.dim(2), "head count");
  push.head_dim = to_u32(node, x.dim(3), "head dim");
  push.log2_base = static_cast<float>(std::log2(node.attr_real("base", 10000.0)));
  if (push.pairs == 0) return;
  if (per_batch_row(args.inputs[1])) push.per_pos = push.pairs / to_u32(node, x.dim(0), "batch");
  args.commands.dispatch(args.pipelines[0],
                         {{x.region}, {args.inputs[1].region}, {args.outputs[0].region, true}},
                         push, linear_groups(push.pairs, args.caps));
}

// Attention splits over key blocks (attention_split.comp) when the
// per-block partials fit this much scratch: decode steps and short prompts,
// whose few rows would leave most of the device idle at one workgroup per
// row.
constexpr uint64_t kAttentionSplitMaxScratch = uint64_t{64} << 20;

// The scratch of the split starts with one counter word per row (rounded
// up to 16 bytes; the blocks of a row that finish count themselves there
// when the partial pass combines), then the per-block partials.
uint64_t split_attention_counter_bytes(uint64_t rows) { return (rows * 4 + 15) / 16 * 16; }

// Scratch bytes of the split for q and k dims, or 0 where it does not run.
uint64_t split_attention_bytes(std::span<const int64_t> q, std::span<const int64_t> k,
                               const DeviceCaps& caps) {
  if (q.size() != 4 || k.size() != 4 || caps.rows_workgroup < kAttentionSplitBlock) return 0;
  const int64_t head_dim = q[3];
  if (head_dim <= 0 || head_dim > kAttentionMaxHeadDim || k[2] <= 0) return 0;
  const auto rows = static_cast<uint64_t>(element_count(q) / head_dim);
  const uint64_t blocks =
      (static_cast<uint64_t>(k[2]) + kAttentionSplitBlock - 1) / kAttentionSplitBlock;
  if (rows == 0 || rows > caps.max_group_count[1] || blocks > caps.max_group_count[0]) return 0;
  // rows < 2^32, blocks < 2^32 / 32 and head_dim + 2 ≤ 258: no overflow.
  const uint64_t bytes = split_attention_counter_bytes(rows) +
                         rows * blocks * (static_cast<uint64_t>(head_dim) + 2) * sizeof(float);
  return bytes <= kAttentionSplitMaxScratch ? bytes : 0;
}

uint64_t attention_scratch_bytes(std::span<const Dims* const> inputs, const DeviceCaps& caps) {
  return inputs.size() < 2 ? 0 : split_attention_bytes(*inputs[0], *inputs[1], caps);
}

// The row counters, zero whenever no attention is running, where the
// partial pass combines.
uint64_t attention_zeroed_bytes(std::span<const Dims* const> inputs, const DeviceCaps& caps) {
  if (!caps.fuse_attention_combine || attention_scratch_bytes(inputs, caps) == 0) return 0;
  const Dims& q = *inputs[0];
  return split_attention_counter_bytes(static_cast<uint64_t>(element_count(q) / q[3]));
}

void encode_attention(const EncodeArgs& args) {
  const TensorArg& q = args.inputs[0];
  const TensorArg& k = args.inputs[1];
  const NodeDesc& node = args.node;
  AttentionPush push{};
  push.seq = to_u32(node, q.dim(2), "sequence length");
  push.cache_len = to_u32(node, k.dim(2), "cache length");
  push.head_dim = to_u32(node, q.dim(3), "head dim");
  push.rows = to_u32(node, q.dim(0) * q.dim(1) * q.dim(2), "row count");
  // Grouped-query: H / Hkv query heads per KV head (the op schema checked
  // that Hkv divides H).
  push.group = k.dim(1) > 0 ? to_u32(node, q.dim(1) / k.dim(1), "query heads per KV head") : 1;
  to_u32(node, k.elements(), "cache element count");
  double scale = node.attr_real("scale", 0.0);
  if (scale == 0.0) scale = 1.0 / std::sqrt(static_cast<double>(push.head_dim));
  push.scale = static_cast<float>(scale);
  if (per_batch_row(args.inputs[3])) push.per_pos = push.rows / to_u32(node, q.dim(0), "batch");
  const uint64_t row_bytes = uint64_t{push.head_dim} * dtype_size(k.dtype);
  if (row_bytes % 16 == 0 && k.region.offset % 16 == 0) {
    push.flags |= kAttentionVectorKeys;
    if (q.region.offset % 16 == 0 && args.inputs[2].region.offset % 16 == 0) {
      push.flags |= kAttentionVectorRows;
    }
  }
  if (push.rows == 0 || push.head_dim == 0) return;
  if (args.scratch != nullptr && args.pipelines.size() > 1 &&
      split_attention_bytes(q.dims, k.dims, args.caps) > 0) {
    // Per-block partials into the scratch, then one workgroup per row
    // merges them: the last block of the row to finish, or a pass of its
    // own where binding 0 is the output.
    const uint32_t blocks = (push.cache_len + kAttentionSplitBlock - 1) / kAttentionSplitBlock;
    const BufferRegion& scratch = *args.scratch;
    if (args.caps.fuse_attention_combine) {
      AttentionPush fused = push;
      fused.flags |= kAttentionFusedCombine;
      args.commands.dispatch(args.pipelines[1],
                             {{q.region},
                              {k.region},
                              {args.inputs[2].region},
                              {args.inputs[3].region},
                              {scratch, true},
                              {args.outputs[0].region, true}},
                             ChainedPush<AttentionPush, true>{fused}, Groups{blocks, push.rows, 1});
      return;
    }
    args.commands.dispatch(
        args.pipelines[1],
        {{q.region}, {k.region}, {args.inputs[2].region}, {args.inputs[3].region}, {scratch, true}},
        ChainedPush<AttentionPush, true>{push}, Groups{blocks, push.rows, 1});
    AttentionPush combine = push;
    combine.flags |= kAttentionCombine;
    args.commands.dispatch(
        args.pipelines[1],
        {{args.outputs[0].region, true}, {scratch}, {scratch}, {args.inputs[3].region}, {scratch}},
        ChainedPush<AttentionPush, true>{combine}, row_groups(push.rows, args.caps));
    return;
  }
  args.commands.dispatch(args.pipelines[0],
                         {{q.region},
                          {k.region},
                          {args.inputs[2].region},
                          {args.inputs[3].region},
                          {args.outputs[0].region, true}},
                         push, row_groups(push.rows, args.caps));
}

// When the plan placed the output on the cache itself (in place), only the
// new steps are written; otherwise the cache is copied over first.
void encode_kv_cache_update(const EncodeArgs& args) {
  const TensorArg& cache = args.inputs[0];
  const TensorArg& fresh = args.inputs[1];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  const size_t element = dtype_size(cache.dtype);
  if (out.region.buffer != cache.region.buffer || out.region.offset != cache.region.offset) {
    args.commands.copy(cache.region, 0, out.region, 0,
                       static_cast<VkDeviceSize>(cache.elements()) * element);
  }
  const uint64_t units = element >= 8 ? 2 : 1;  // RAW elements per tensor element
  KvUpdatePush push{};
  push.count = to_u32(node, fresh.elements() * units, "element count");
  push.seq = to_u32(node, fresh.dim(2), "step count");
  push.cache_len = to_u32(node, cache.dim(2), "cache length");
  push.row = to_u32(node, cache.dim(3) * units, "row width");
  to_u32(node, cache.elements() * units, "cache element count");
  if (push.count == 0) return;
  if (per_batch_row(args.inputs[2]))
    push.per_pos = push.count / to_u32(node, fresh.dim(0), "batch");
  args.commands.dispatch(args.pipelines[0],
                         {{out.region, true}, {fresh.region}, {args.inputs[2].region}}, push,
                         linear_groups(push.count, args.caps));
}

const OpSpec kAttentionOps[] = {
    {.op = "rope",
     .encode = encode_rope,
     .shader = "rope",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.rope.rotate_half"},
    {.op = "attention",
     .encode = encode_attention,
     .shader = "attention",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.attention.causal_online_softmax",
     .alternate_shader = "attention_split",
     .scratch_bytes = attention_scratch_bytes,
     .scratch_zeroed_bytes = attention_zeroed_bytes},
    {.op = "kv_cache_update",
     .encode = encode_kv_cache_update,
     .shader = "kv_update",
     .shader_kind = ShaderKind::kRaw,
     .kernel_name = "vulkan.kv_cache_update.in_place"},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kAttention> = kAttentionOps;

}  // namespace rtscope::vulkan
