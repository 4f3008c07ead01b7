// Decoder ops: rope, causal attention over a KV cache (one workgroup per
// query row, online softmax over key chunks), and kv_cache_update. The
// position is read on the device from its i64 buffer; the host checks it
// against the cache length before submitting (execution_plan.hpp).
#include <cmath>

#include "command_list.hpp"
#include "op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

void check_position_dims(const NodeDesc& node, const Dims& pos) {
  if (element_count(pos) != 1) fail_node(node, "pos must hold one i64, got ", shape_str(pos));
}

void infer_rope(const NodeDesc& node, std::span<const Dims* const> inputs,
                std::span<Dims> outputs) {
  const Dims& x = *inputs[0];
  if (x.size() != 4) fail_node(node, "x must be [B, S, H, Dh], got ", shape_str(x));
  if (x[3] % 2 != 0) fail_node(node, "head dim Dh must be even, got ", shape_str(x));
  check_position_dims(node, *inputs[1]);
  outputs[0] = x;
}

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
  args.commands.dispatch(args.pipelines[0],
                         {{x.region}, {args.inputs[1].region}, {args.outputs[0].region, true}},
                         push, linear_groups(push.pairs, args.caps));
}

// q [B, H, S, Dh] against k and v [B, H, T, Dh].
void infer_attention(const NodeDesc& node, std::span<const Dims* const> inputs,
                     std::span<Dims> outputs) {
  const Dims& q = *inputs[0];
  const Dims& k = *inputs[1];
  const Dims& v = *inputs[2];
  if (q.size() != 4) fail_node(node, "q must be [B, H, S, Dh], got ", shape_str(q));
  if (k.size() != 4) fail_node(node, "k_cache must be [B, H, T, Dh], got ", shape_str(k));
  if (k != v) fail_node(node, "k_cache ", shape_str(k), " and v_cache ", shape_str(v), " differ");
  if (q[0] != k[0] || q[1] != k[1] || q[3] != k[3]) {
    fail_node(node, "q ", shape_str(q), " does not match k_cache ", shape_str(k), " in B, H or Dh");
  }
  if (q[2] > k[2]) {
    fail_node(node, "q has ", q[2], " steps but the cache only ", k[2], ": ", shape_str(q), " vs ",
              shape_str(k));
  }
  if (q[3] > kAttentionMaxHeadDim) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": head dim ", q[3],
         " exceeds the Vulkan attention kernel's limit of ", kAttentionMaxHeadDim);
  }
  check_position_dims(node, *inputs[3]);
  outputs[0] = q;
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
  to_u32(node, k.elements(), "cache element count");
  double scale = node.attr_real("scale", 0.0);
  if (scale == 0.0) scale = 1.0 / std::sqrt(static_cast<double>(push.head_dim));
  push.scale = static_cast<float>(scale);
  const uint64_t row_bytes = uint64_t{push.head_dim} * dtype_size(k.dtype);
  if (row_bytes % 16 == 0 && k.region.offset % 16 == 0) push.flags |= kAttentionVectorKeys;
  if (push.rows == 0 || push.head_dim == 0) return;
  args.commands.dispatch(args.pipelines[0],
                         {{q.region},
                          {k.region},
                          {args.inputs[2].region},
                          {args.inputs[3].region},
                          {args.outputs[0].region, true}},
                         push, row_groups(push.rows, args.caps));
}

void infer_kv_cache_update(const NodeDesc& node, std::span<const Dims* const> inputs,
                           std::span<Dims> outputs) {
  const Dims& cache = *inputs[0];
  const Dims& fresh = *inputs[1];
  if (cache.size() != 4) fail_node(node, "cache must be [B, H, T, Dh], got ", shape_str(cache));
  if (fresh.size() != 4 || fresh[0] != cache[0] || fresh[1] != cache[1] || fresh[3] != cache[3]) {
    fail_node(node, "new must be [", cache[0], ", ", cache[1], ", S, ", cache[3],
              "] to match cache ", shape_str(cache), ", got ", shape_str(fresh));
  }
  if (fresh[2] > cache[2]) {
    fail_node(node, "new has ", fresh[2], " steps but the cache only ", cache[2]);
  }
  check_position_dims(node, *inputs[2]);
  outputs[0] = cache;
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
  args.commands.dispatch(args.pipelines[0],
                         {{out.region, true}, {fresh.region}, {args.inputs[2].region}}, push,
                         linear_groups(push.count, args.caps));
}

constexpr InputKind kRopeInputs[] = {InputKind::kFloat, InputKind::kPosition};
constexpr InputKind kAttentionInputs[] = {InputKind::kFloat, InputKind::kFloat, InputKind::kFloat,
                                          InputKind::kPosition};
constexpr InputKind kCacheInputs[] = {InputKind::kFloat, InputKind::kFloat, InputKind::kPosition};
constexpr AttrSpec kRopeAttrs[] = {{"base", RTS_ATTR_FLOAT, false}};
constexpr AttrSpec kAttentionAttrs[] = {{"scale", RTS_ATTR_FLOAT, false}};

const OpSpec kAttentionOps[] = {
    {.op = "rope",
     .min_inputs = 2,
     .max_inputs = 2,
     .input_kinds = kRopeInputs,
     .output_dtype = OutputDtype::kSameAsFirstInput,
     .attrs = kRopeAttrs,
     .infer = infer_rope,
     .encode = encode_rope,
     .shader = "rope",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.rope.rotate_half"},
    {.op = "attention",
     .min_inputs = 4,
     .max_inputs = 4,
     .input_kinds = kAttentionInputs,
     .output_dtype = OutputDtype::kSameAsFirstInput,
     .attrs = kAttentionAttrs,
     .infer = infer_attention,
     .encode = encode_attention,
     .shader = "attention",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.attention.causal_online_softmax"},
    {.op = "kv_cache_update",
     .min_inputs = 3,
     .max_inputs = 3,
     .input_kinds = kCacheInputs,
     .output_dtype = OutputDtype::kSameAsFirstInput,
     .attrs = {},
     .infer = infer_kv_cache_update,
     .encode = encode_kv_cache_update,
     .shader = "kv_update",
     .shader_kind = ShaderKind::kRaw,
     .kernel_name = "vulkan.kv_cache_update.in_place"},
};

}  // namespace

std::span<const OpSpec> attention_op_specs() { return kAttentionOps; }

}  // namespace rtscope::vulkan
