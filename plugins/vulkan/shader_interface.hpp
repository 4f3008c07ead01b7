// The host side of the shader interface: push-constant blocks (each mirrors
// the `Push` block of one shaders/*.comp; std430, 4-byte scalars only), the
// descriptor layout every pipeline shares, and which specialization
// constants each shader family takes. Change a struct here only together
// with its shader.
#pragma once

#include <cstdint>
#include <string_view>

namespace rtscope::vulkan {

// Every pipeline uses one descriptor set of this many storage buffers
// (matvec_t with a fused argmax binds the most: a, b, bias or gain, out,
// the fourth operand, the argmax's state and its output, and the chain
// counters) and one push-constant range.
inline constexpr uint32_t kMaxBindings = 8;
inline constexpr uint32_t kMaxShaderRank = 8;  // MAX_RANK in common.glsl

struct BinaryPush {
  uint32_t op;  // 0 add, 1 sub, 2 mul, 3 div, 4 pow, 5 max, 6 min, 7 prelu
  uint32_t rank;
  uint32_t count;
  uint32_t pad;
  uint32_t dims[kMaxShaderRank];
  uint32_t a_strides[kMaxShaderRank];
  uint32_t b_strides[kMaxShaderRank];
};

struct UnaryPush {
  uint32_t op;  // 0 scale, 1 relu, 2 gelu, 3 silu, kUnaryMathBase + rtscope::math::Unary
  uint32_t count;
  float factor;  // scale's factor, or a math op's first parameter (UnaryParams::a)
  float param;   // a math op's second parameter (UnaryParams::b)
};
inline constexpr uint32_t kUnaryMathBase = 4;

struct MatmulPush {
  uint32_t m;
  uint32_t n;
  uint32_t k;
  uint32_t flags;  // kMatmulTransposeB | kMatmulBias
  uint32_t batches;
  uint32_t batch_dims[3];
  uint32_t a_batch_strides[3];
  uint32_t b_batch_strides[3];
};
inline constexpr uint32_t kMatmulTransposeB = 1;
inline constexpr uint32_t kMatmulBias = 2;
// matvec_t only: binding 4 holds r[M, N], added to the result (a residual
// add fused into the projection before it, ExecutionPlan).
inline constexpr uint32_t kMatmulResidual = 4;
// matvec_t only: binding 2 holds a gain g[K] instead of a bias, and each
// row of A is rmsnorm'ed (x * g / sqrt(mean(x²) + eps)) before the product.
inline constexpr uint32_t kMatmulNormRows = 8;
// matvec_t only: binding 4 holds a second weight U [N, K] and the output is
// silu(A·Bᵀ) · (A·Uᵀ) (a SwiGLU's gate, up, silu and product fused,
// ExecutionPlan).
inline constexpr uint32_t kMatmulGated = 16;
// matvec_t only: binding 4 holds the i64 position and the output, read as
// [rows, heads, head_dim], gets rotate-half RoPE at pos + row % seq (a rope
// after the projection fused, ExecutionPlan).
inline constexpr uint32_t kMatmulRope = 32;
// With kMatmulRope or kMatmulCacheWrite: one position per batch row
// (pos [B]), row r at pos[r / seq]; without it every row shares pos[0].
inline constexpr uint32_t kMatmulPosPerRow = 64;
// matvec_t and skinny_coop: binding 4 holds the i64 position and binding 3
// is a KV cache [B, N / head_dim, cache_len, head_dim]: row r = b·seq + s of
// the output, column h·head_dim + d, goes to the cache at [b, h, pos + s, d]
// (a kv_cache_update of the projection's heads fused, ExecutionPlan). A
// batch row whose position leaves no room for seq steps stores nothing.
inline constexpr uint32_t kMatmulCacheWrite = 128;
// matvec_t only, f16: binding 6 gets each row's argmax over its N columns
// as an i64 (the first index on ties, NaN never winning), through the
// counter and keys in binding 5 (kMatvecArgmaxStateBytes, zero before the
// dispatch and zero again after it); at most kMatvecArgmaxMaxRows rows and
// kMatvecArgmaxPages pages of kMatvecArgmaxPageColumns columns (an argmax
// after the projection fused, ExecutionPlan).
inline constexpr uint32_t kMatmulArgmax = 256;
// With kMatmulNormRows: the gain is all ones (a norm gain folded into the
// weights on upload, Engine::fold_norm_gains), so the shader skips it.
inline constexpr uint32_t kMatmulUnitGain = 512;
// matvec_t only, split-K: the product has its batch to itself (no other
// node of the plan runs between its barriers) and is too narrow for
// DeviceCaps::matvec_min_groups workgroups, so it takes fewer slots of K
// per invocation, in larger teams (matvec_product_team_slots). Products
// that share their batch (the q, k and v projections) fill the device
// together and keep their teams.
inline constexpr uint32_t kMatmulSpreadTeams = 1024;
inline constexpr uint32_t kMatvecArgmaxMaxRows = 16;         // ARGMAX_ROWS in matvec_t.comp
inline constexpr uint32_t kMatvecArgmaxPages = 4;            // ARGMAX_PAGES
inline constexpr uint32_t kMatvecArgmaxPageColumns = 65536;  // a key's index bits
// A 16-byte header (the count), then a key per (row, page).
inline constexpr uint32_t kMatvecArgmaxStateBytes =
    16 + kMatvecArgmaxMaxRows * kMatvecArgmaxPages * 4;
// The most workgroups a matvec_t dispatch runs (DeviceCaps::matvec_groups),
// about what a large GPU holds at once: they loop over the rest of the task
// groups. A fused argmax's workgroups count themselves in once each (a
// round trip to memory and an atomic on one word), and the split-K path
// runs more task groups per workgroup for the same bytes. H100, GPU
// reference decoder, device time per step: at one stream 0.612-0.613 ms
// capped at 1056 or 2112 as uncapped (528: 0.616); at 8 streams
// 0.999-1.008 against 1.019-1.023 uncapped, and a fused argmax 1.047-1.049
// uncapped against 1.023-1.025 in a dispatch of its own.
inline constexpr uint32_t kMatvecMaxGroups = 1024;

// matvec.comp: the skinny matmul for at most kMatvecMaxRows rows.
struct MatvecPush {
  uint32_t m;
  uint32_t n;
  uint32_t k;
  uint32_t flags;          // kMatmulBias, and the matvec_t flags above
  float eps;               // kMatmulNormRows
  uint32_t head_dim = 0;   // kMatmulRope, kMatmulCacheWrite
  uint32_t seq = 0;        // kMatmulRope, kMatmulCacheWrite
  float log2_base = 0;     // kMatmulRope
  uint32_t cache_len = 0;  // kMatmulCacheWrite
};
inline constexpr uint32_t kMatvecMaxRows = 4;  // MAX_ROWS in matvec.comp
// matvec_t computes blocks of 16 rows per weight read (a batched decode step
// of up to 16 streams reads each weight once) and loops over blocks with
// the weights in cache: up to this many rows it beats the tiled shader,
// which reads a transposed B poorly.
inline constexpr uint32_t kMatvecTransposedMaxRows = 64;
inline constexpr uint32_t kMatvecColumns = 32;  // COLS in matvec.comp
// matvec_t's split-K path (2+ rows): weight rows per workgroup by default
// (SPLIT_WEIGHT_ROWS, spec constant 1; on an H100 the 8-stream decode step
// took 1.11-1.17 ms with 4, 1.24-1.25 with 8, 1.24 with 2 and 1.64 with
// 16, the 4-stream step 0.78 ms with 4 and 0.87 with 8), and the
// tasks a workgroup takes for a given count: that many columns, or half as
// many pairs of weight rows (a gate and its up projection, or a rope's
// two halves).
inline constexpr uint32_t kMatvecSplitRows = 4;
// Rows of A per pass over them (SPLIT_BLOCK_ROWS, spec constant 2).
inline constexpr uint32_t kMatvecSplitBlockRows = 8;
inline constexpr uint32_t matvec_split_tasks(uint32_t weight_rows, bool paired) {
  return paired ? weight_rows / 2 : weight_rows;
}
// Slots of K (16 bytes each) per invocation that a team of the split-K
// path aims at (SPLIT_TEAM_SLOTS, spec constant 3; 0: the whole workgroup
// takes one task group at a time). On an H100 the 8-stream decode step
// took 0.78 ms of device time with 8 (a subgroup per team at K = 2048),
// 0.81-0.82 with 4 or 16, 0.85-0.87 with 2 and 1.0 with one team per
// workgroup; the 4-stream step 0.71 with 8 and 0.74 with 16.
inline constexpr uint32_t kMatvecTeamSlots = 8;
// The same for up to kMatvecFewRows rows (SPLIT_FEW_ROW_TEAM_SLOTS, spec
// constant 4): teams of twice the subgroups there. On an H100 (GPU
// reference decoder, captured, same call) 4 slots against 8 took the
// 2-stream step from 0.665 to 0.622 ms of device time and the 4-stream
// step from 0.703 to 0.662, where the 8-stream step is 0.03 ms faster
// with 8.
inline constexpr uint32_t kMatvecFewRowTeamSlots = 4;
inline constexpr uint32_t kMatvecFewRows = 4;
// The slots per invocation a split-K team of a `rows`-row product aims at:
// team_slots in matvec_t.comp. Both pipelines of a product (generic and
// specialized to the rows) see the same rows, so they add in the same order.
inline constexpr uint32_t matvec_team_slots_for_rows(uint32_t team_slots,
                                                     uint32_t few_row_team_slots, uint32_t rows) {
  return rows <= kMatvecFewRows ? few_row_team_slots : team_slots;
}
// Subgroups per team for `vecs` slots of K: split_team_subgroups in
// matvec_t.comp.
inline constexpr uint32_t matvec_split_team_subgroups(uint32_t vecs, uint32_t storers,
                                                      uint32_t subgroup_size, uint32_t subgroups,
                                                      uint32_t team_slots) {
  if (team_slots == 0 || subgroup_size == 0) return subgroups;
  uint32_t team = 1;
  while (team < subgroups &&
         (uint64_t{team} * team_slots * subgroup_size < vecs || team * subgroup_size < storers)) {
    team *= 2;
  }
  return team;
}

// The fewest workgroups a split-K product alone in its batch aims to fill
// by default (DeviceCaps::matvec_min_groups, spec constant 5 of matvec_t;
// RTSCOPE_VULKAN_MATVEC_MIN_GROUPS; 0: no bound). About two per SM of an
// H100: at 8 streams its output projection (K = 2048, 64 workgroups of
// one-subgroup teams) in 256 workgroups of 4-subgroup teams took the
// decode step from 1.552-1.557 to 1.524-1.528 ms of device time (an H200:
// 1.438 to 1.406), where the same bound on every product (the q, k and v
// projections too, which share their batch) made it 1.596
// (docs/benchmarks.md).
inline constexpr uint32_t kMatvecSplitMinGroups = 256;
// The slots per invocation a split-K product of `task_groups` task groups
// aims at: `slots` (matvec_team_slots_for_rows), halved while its teams
// would fill fewer than `min_groups` workgroups, so that a narrow product
// (the output projection at K = 2048: 64 workgroups of one-subgroup teams
// for 8 rows) spreads over the device in larger teams. Mirrors
// product_team_slots in matvec_t.comp; both pipelines of a product see
// the same shape, so they still add in the same order.
inline constexpr uint32_t matvec_product_team_slots(uint32_t slots, uint32_t min_groups,
                                                    uint32_t vecs, uint32_t storers,
                                                    uint32_t subgroup_size, uint32_t subgroups,
                                                    uint64_t task_groups) {
  while (slots > 1 && min_groups != 0) {
    const uint32_t teams =
        subgroups / matvec_split_team_subgroups(vecs, storers, subgroup_size, subgroups, slots);
    if ((task_groups + teams - 1) / teams >= min_groups) break;
    slots /= 2;
  }
  return slots;
}

struct SoftmaxPush {
  uint32_t lanes;
  uint32_t axis_len;
  uint32_t inner;
};

struct NormPush {
  uint32_t mode;  // 0 rmsnorm, 1 layernorm
  uint32_t rows;
  uint32_t width;
  float eps;
};

struct RopePush {
  uint32_t pairs;
  uint32_t seq;
  uint32_t heads;
  uint32_t head_dim;
  float log2_base;
  uint32_t per_pos;  // pairs per position: 0 (one shared) or S·H·Dh/2
};

struct AttentionPush {
  uint32_t rows;
  uint32_t seq;
  uint32_t cache_len;
  uint32_t head_dim;
  float scale;
  uint32_t flags;    // kAttentionVectorKeys, kAttentionCombine, ...
  uint32_t per_pos;  // rows per position: 0 (one shared) or H·S
  uint32_t group;    // query heads per KV head, H / Hkv (1: every head has its own)
};
// Key rows start on 16-byte boundaries and hold whole 16-byte vectors.
inline constexpr uint32_t kAttentionVectorKeys = 1;
inline constexpr uint32_t kAttentionMaxHeadDim = 256;  // MAX_HEAD_DIM in attention.comp
// attention_split.comp: the combine pass (else the per-block partial pass).
inline constexpr uint32_t kAttentionCombine = 2;
// attention_split.comp: the partial pass, and the last block of each row to
// finish combines the row's blocks (counted in the scratch's first words),
// writing the output to binding 5.
inline constexpr uint32_t kAttentionFusedCombine = 4;
inline constexpr uint32_t kAttentionSplitBlock = 32;  // BLOCK in attention_split.comp
// attention_split.comp: q, k and v rows start on 16-byte boundaries and
// hold whole 16-byte vectors (every load of a block goes out at once).
inline constexpr uint32_t kAttentionVectorRows = 8;

struct KvUpdatePush {
  uint32_t count;
  uint32_t seq;
  uint32_t cache_len;
  uint32_t row;
  uint32_t per_pos;  // elements of new per position: 0 (one shared) or H·S·row
};

struct EmbeddingPush {
  uint32_t count;
  uint32_t width;
  uint32_t vocab;
  uint32_t id_words;
};

struct CopyPush {
  uint32_t rank;
  uint32_t count;
  uint32_t in_offset;
  uint32_t out_offset;
  uint32_t dims[kMaxShaderRank];
  uint32_t in_strides[kMaxShaderRank];
  uint32_t out_strides[kMaxShaderRank];
};

struct ArgmaxPush {
  uint32_t lanes;
  uint32_t axis_len;
  uint32_t inner;
};

// select.comp: nonzero and masked_select.
struct SelectPush {
  uint32_t count;
  uint32_t rows;
  uint32_t words;
  uint32_t value_mask;
  uint32_t rank;
  uint32_t pad[3];
  uint32_t dims[kMaxShaderRank];
};

// reduce.comp: reduce_* over any axes. Dims of size 1 are dropped and
// adjacent kept (reduced) dims merged, so at most kReduceRank runs of each.
inline constexpr uint32_t kReduceRank = 4;  // REDUCE_RANK in reduce.comp
struct ReducePush {
  uint32_t op;  // 0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 log_sum_exp
  uint32_t groups;
  uint32_t members;
  uint32_t kept_rank;
  uint32_t reduced_rank;
  uint32_t pad[3];
  uint32_t kept_dims[kReduceRank];
  uint32_t kept_strides[kReduceRank];
  uint32_t reduced_dims[kReduceRank];
  uint32_t reduced_strides[kReduceRank];
};

// window.comp: conv, conv_transpose, max_pool, avg_pool over 1 to
// kWindowSpatial dims.
inline constexpr uint32_t kWindowSpatial = 3;  // SPATIAL in window.comp
struct WindowPush {
  uint32_t mode;  // 0 conv, 1 max_pool, 2 avg_pool, 3 avg_pool counting pads, 4 conv_transpose
  uint32_t count;
  uint32_t spatial;
  uint32_t flags;  // kWindowBias
  uint32_t in_per_group;
  uint32_t out_per_group;
  uint32_t out_channels;
  uint32_t in_dims[kWindowSpatial];
  uint32_t out_dims[kWindowSpatial];
  uint32_t kernel[kWindowSpatial];
  uint32_t strides[kWindowSpatial];
  uint32_t dilations[kWindowSpatial];
  int32_t pad_begin[kWindowSpatial];  // conv_transpose may crop (negative)
  uint32_t pad_end[kWindowSpatial];
};
inline constexpr uint32_t kWindowBias = 1;

// gather.comp: rows of one axis picked by i32 or i64 indices.
struct GatherPush {
  uint32_t count;
  uint32_t inner;
  uint32_t indices;
  uint32_t axis_len;
  uint32_t id_words;
};

// where.comp: select with broadcasting of x, y and cond.
inline constexpr uint32_t kWhereRank = 6;  // WHERE_RANK in where.comp
struct WherePush {
  uint32_t rank;
  uint32_t count;
  uint32_t pad[2];
  uint32_t dims[kWhereRank];
  uint32_t x_strides[kWhereRank];
  uint32_t y_strides[kWhereRank];
  uint32_t cond_strides[kWhereRank];
};

// cast.comp: type codes of `from` and `to`.
enum CastType : uint32_t { kCastF32, kCastF16, kCastI32, kCastI64, kCastBool };
struct CastPush {
  uint32_t count;
  uint32_t from;
  uint32_t to;
};

// compare.comp: comparisons (any dtype) and logic (bool), bool out.
struct ComparePush {
  uint32_t op;  // 0 equal, 1 less, 2 greater, 3 less_equal, 4 greater_equal, 5 and, 6 or,
                // 7 xor, 8 not
  uint32_t rank;
  uint32_t count;
  uint32_t type;  // CastType of both operands
  uint32_t dims[kMaxShaderRank];
  uint32_t a_strides[kMaxShaderRank];
  uint32_t b_strides[kMaxShaderRank];
};

// index_map.comp: pad, trilu and gather_elements.
inline constexpr uint32_t kIndexMapRank = 6;  // MAP_RANK in index_map.comp
struct IndexMapPush {
  uint32_t mode;  // 0 pad, 1 trilu, 2 gather_elements
  uint32_t rank;
  uint32_t count;
  uint32_t units;
  uint32_t param;  // pad: 0 constant, 1 reflect, 2 edge; trilu: 1 upper; gather_elements: axis
  int32_t k;
  uint32_t fill_low;
  uint32_t fill_high;
  uint32_t id_words;
  uint32_t out_dims[kIndexMapRank];
  uint32_t in_dims[kIndexMapRank];
  int32_t pad_begin[kIndexMapRank];
};

// nll_loss.comp: one workgroup over every target.
struct NllLossPush {
  uint32_t count;
  uint32_t classes;
  uint32_t spatial;
  uint32_t flags;      // kNllLossWeighted
  uint32_t reduction;  // 0 none, 1 sum, 2 mean
  uint32_t id_words;
  uint32_t ignore_low;
  uint32_t ignore_high;
};
inline constexpr uint32_t kNllLossWeighted = 1;

// Chained batches (shaders/chain.glsl, CommandList): the last words of a
// chaining shader's push constants say which counter its workgroups wait
// for and up to what count, and which counter they count themselves into
// when done (word indices into the counters in binding kChainBinding;
// 0: none, so word 0 is never used).
struct ChainPush {
  uint32_t wait = 0;
  uint32_t count = 0;
  uint32_t signal = 0;
  uint32_t unused = 0;
};
inline constexpr uint32_t kChainBinding = 7;
// A waiting shader's stall word: 4 bytes of host-visible memory.
inline constexpr uint32_t kChainStallBinding = 6;
inline constexpr uint32_t kChainPushOffset = 112;  // CHAIN_PUSH in chain.glsl

// A chaining shader's block with its chain words at kChainPushOffset,
// zero unless CommandList::finalize chains the dispatch: every chaining
// shader counts its workgroups in (matvec_t), and those with kWaits also
// wait for a count (attention_split).
template <typename Push, bool kWaits = false>
struct ChainedPush {
  static_assert(sizeof(Push) <= kChainPushOffset);
  static constexpr bool waits = kWaits;
  explicit ChainedPush(const Push& block) : push(block) {}
  Push push;
  uint32_t unused[(kChainPushOffset - sizeof(Push)) / 4] = {};
  ChainPush chain;
};

// The largest block above; the size of the shared push-constant range.
inline constexpr uint32_t kPushConstantBytes = sizeof(ChainedPush<MatvecPush>);
static_assert(kPushConstantBytes == kChainPushOffset + sizeof(ChainPush));
static_assert(sizeof(CopyPush) <= kPushConstantBytes);
static_assert(sizeof(WindowPush) <= kPushConstantBytes && sizeof(WherePush) <= kPushConstantBytes);
static_assert(sizeof(ReducePush) <= kPushConstantBytes &&
              sizeof(ComparePush) <= kPushConstantBytes);
static_assert(sizeof(BinaryPush) <= kPushConstantBytes && sizeof(MatmulPush) <= kPushConstantBytes);
static_assert(sizeof(SelectPush) <= kPushConstantBytes);
static_assert(kPushConstantBytes <= 128, "Vulkan guarantees only 128 bytes of push constants");

// How a shader family is specialized for a device.
enum class WorkgroupShape : uint8_t {
  kLinear,  // 1-D grid-stride loops: constant 0 = workgroup size
  kRows,    // one workgroup per row with shared-memory reductions: constant 0
            // = workgroup size, a power of two
  kTiles,   // matmul: constants 0 and 1 = tile threads along x and y
};

// Shape specialization: the first shape_constant_count(family) push-constant
// words of a family's dispatches are also its shader's specialization
// constants kShapeConstantBase + i (SHAPE in common.glsl), 0 meaning "read
// the push constant". Generic pipelines leave them all 0; a specialized
// pipeline carries one dispatch's words. Families with none (data movement,
// whose work is memory-bound index arithmetic) always run generic.
inline constexpr uint32_t kShapeConstantBase = 8;
inline constexpr uint32_t kMaxShapeConstants = 5;
uint32_t shape_constant_count(std::string_view family);

// The family of a shader variant name: "matmul_f16" -> "matmul".
std::string_view shader_family(std::string_view variant);
WorkgroupShape workgroup_shape(std::string_view family);

}  // namespace rtscope::vulkan
