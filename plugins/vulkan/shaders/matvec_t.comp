#version 450
// Skinny matmul on a weight stored transposed: C[M, N] = A[M, K] · Bᵀ
// (+ bias) with B stored [N, K], for decode steps and short prompts (the
// encoder sends up to kMatvecTransposedMaxRows rows, MAX_ROWS at a time:
// with shape specialization, a batched decode step of up to 16 streams is
// one block, so every weight is read from memory once per step for all
// rows). The
// engine stores `linear` weights that way on devices with subgroup
// arithmetic (engine.cpp), so that one subgroup computes one output
// column from K contiguous weights: every invocation reads 16 bytes at a
// time (the subgroup's reads are coalesced), and subgroupAdd reduces the
// partial sums, with no shared memory and no barriers. A decode step is
// a read of every weight once: this shader is bound by memory bandwidth.
// The encoder uses it only when K is a multiple of the elements in 16
// bytes (the bindings are 16-byte aligned).
// Gated (flag bit 4): a second weight U [N, K] in binding 4, and the
// output is silu(A·Bᵀ) · (A·Uᵀ), so a SwiGLU's gate and up projections,
// its silu and its product run as one dispatch; each subgroup then streams
// two weight rows, which keeps twice the bytes in flight.
// Rope (flag bit 5): the output is [rows, heads, Dh] and gets rotate-half
// RoPE at position pos + (row % seq) (rope.comp): each subgroup computes the
// pair of columns i and i + Dh/2 of one head and rotates them, with pos in
// binding 4: one position for every row, or (flag bit 6) one per batch
// row, row r at pos[r / seq].
// Cache write (flag bit 7): the output binding is a KV cache and each
// output goes to its row at the row's position (cache_slot.glsl).
// Argmax (flag bit 8, f16 only): each row's argmax over its columns, the
// first index on ties, goes to binding 6 as an i64 (a decode step's next
// token picked by the projection that computes the logits, with no
// dispatch of its own nor the barrier before it); see argmax_* below.
// Two or more rows (spec constant 1 not 0): the workgroup splits K
// instead, see split_k below.
// Chained (chain.glsl): every workgroup counts itself in when done, for a
// split attention after it that waits for the count instead of a barrier.
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#ifdef F16_PRODUCTS
// f16 weights and rows multiplied in f16 on the split-K path
// (accumulate_slot); the host runs this variant only on devices with
// shaderFloat16 and enables the feature for it.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#include "vec16.glsl"
#include "chain.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
// Weight rows per workgroup on the split-K path (DeviceCaps::
// matvec_split_rows, a power of two); 0: batched rows stay one column per
// subgroup.
layout(constant_id = 1) const uint SPLIT_WEIGHT_ROWS = 4;
// Rows of A per pass over them (DeviceCaps::matvec_split_block_rows: 2, 4
// or 8).
layout(constant_id = 2) const uint SPLIT_BLOCK_ROWS = 8;

// Slots of K per invocation a team of the split-K path aims at
// (DeviceCaps::matvec_team_slots; 0: one team per workgroup).
layout(constant_id = 3) const uint SPLIT_TEAM_SLOTS = 8;
// The same for products of up to FEW_ROWS rows (DeviceCaps::
// matvec_few_row_team_slots). Mirrors kMatvecFewRows.
layout(constant_id = 4) const uint SPLIT_FEW_ROW_TEAM_SLOTS = 4;
const uint FEW_ROWS = 4u;
// The fewest workgroups a split-K product alone in its batch aims to fill
// (DeviceCaps::matvec_min_groups; 0: no bound): product_team_slots.
layout(constant_id = 5) const uint SPLIT_MIN_GROUPS = 256;
// Whether a team of one subgroup meets only itself between its sums and
// their stores (DeviceCaps::matvec_solo_teams; 0: the workgroup meets at
// every round): team_barrier.
layout(constant_id = 6) const uint SPLIT_SOLO_TEAMS = 0;

const uint IN_FLIGHT = 8;  // 16-byte weight loads per invocation and row

layout(std430, binding = 0) readonly buffer InA { uvec4 a[]; };
layout(std430, binding = 1) readonly buffer InB { uvec4 b[]; };
layout(std430, binding = 2) readonly buffer InBias { ELEM bias[]; };
// With bit 3 of flags the same binding holds the rmsnorm gain g[K].
layout(std430, binding = 2) readonly buffer InGain { uvec4 gain[]; };
layout(std430, binding = 3) writeonly buffer Out { ELEM o[]; };
layout(std430, binding = 4) readonly buffer InResidual { ELEM residual[]; };
// With bit 4 of flags the same binding holds the second (up) weight U[N, K].
layout(std430, binding = 4) readonly buffer InUp { uvec4 up[]; };
// With bit 5 or 7 of flags the same binding holds the i64 position.
layout(std430, binding = 4) readonly buffer InPos { uint pos_words[]; };

// Mirrors MatvecPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint m;
  uint n;
  uint k;
  uint flags;  // bit 0 (transpose_b) is always set here; bit 1: add bias[N];
               // bit 2: add residual[M, N] (a fused residual connection);
               // bit 3: rmsnorm each row of A with gain g[K] first (fused);
               // bit 4: gated, silu(A·Bᵀ) · (A·Uᵀ) with U in binding 4;
               // bit 5: rope on the output, pos in binding 4;
               // bit 6: with bit 5 or 7, one position per batch row (pos [B]);
               // bit 7: the output is a KV cache (cache_slot.glsl), pos in binding 4;
               // bit 8: argmax of each row too (f16; bindings 5 and 6);
               // bit 9: with bit 3, the gain is all ones (folded into B);
               // bit 10: split-K, alone in its batch: product_team_slots
  float eps;   // bit 3
  uint head_dim;     // bits 5, 7
  uint seq;          // bits 5, 7
  float log2_base;   // bit 5
  uint cache_len;    // bit 7
  CHAIN_PUSH
} pc;

#include "cache_slot.glsl"

#ifdef ELEM_F16
// The fused argmax (flag bit 8). Every stored value gets a 32-bit key that
// orders as the value and then as the first index: the f16 bits made
// monotone above the column's index within its page of 65536 columns,
// inverted. A workgroup keeps the largest key per (row, page) in shared
// memory, then adds them into binding 5 with one atomicMax each and counts
// itself in; the workgroup that counts last reads the row's pages, writes
// the winner, and sets the keys and the count back to zero (the plan also
// zeroes them at the start of every execute). 32-bit atomics only, and the
// same answer whichever workgroup finishes first.
// Mirrors kMatvecArgmax* in shader_interface.hpp.
const uint ARGMAX_ROWS = 16u;
const uint ARGMAX_PAGES = 4u;
const uint ARGMAX_KEYS = 4u;  // the keys start after a 16-byte header (the count)
layout(std430, binding = 5) coherent buffer ArgmaxState { uint argmax_state[]; };
layout(std430, binding = 6) writeonly buffer ArgmaxOut { uint argmax_out[]; };
shared uint argmax_best[ARGMAX_ROWS * ARGMAX_PAGES];
shared bool argmax_last;

// NaN orders below every value (it never wins, as in argmax.comp, where no
// value is larger than it), and -0 as +0 (they compare equal there).
uint argmax_key(float value, uint column) {
  const uint bits = packHalf2x16(vec2(value == 0.0 ? 0.0 : value, 0.0)) & 0xffffu;
  const uint ordered = isnan(value)                ? 0u
                       : (bits & 0x8000u) != 0u ? (~bits & 0xffffu)
                                                : (bits | 0x8000u);
  return (ordered << 16) | (0xffffu - (column & 0xffffu));
}

void argmax_start() {
  for (uint i = gl_LocalInvocationIndex; i < ARGMAX_ROWS * ARGMAX_PAGES; i += WG) {
    argmax_best[i] = 0u;
  }
  barrier();
}

void argmax_finish(uint M, uint N) {
  const uint pages = (N + 0xffffu) >> 16;
  barrier();  // every key of the workgroup is in argmax_best
  if (gl_LocalInvocationIndex == 0u) {
    for (uint r = 0u; r < M; ++r) {
      for (uint p = 0u; p < pages; ++p) {
        const uint key = argmax_best[r * ARGMAX_PAGES + p];
        if (key != 0u) atomicMax(argmax_state[ARGMAX_KEYS + r * ARGMAX_PAGES + p], key);
      }
    }
    memoryBarrierBuffer();
    argmax_last = atomicAdd(argmax_state[0], 1u) == gl_NumWorkGroups.x - 1u;
  }
  barrier();
  // Only the last workgroup goes on, without returning: main counts every
  // workgroup in after this (chain.glsl).
  if (argmax_last) {
    memoryBarrierBuffer();
    if (gl_LocalInvocationIndex < M) {
      const uint r = gl_LocalInvocationIndex;
      uint best_ordered = 0u;
      uint best_index = 0u;
      for (uint p = 0u; p < pages; ++p) {
        const uint key = atomicExchange(argmax_state[ARGMAX_KEYS + r * ARGMAX_PAGES + p], 0u);
        const uint ordered = key >> 16;
        if (p == 0u || ordered > best_ordered) {  // equal: the earlier page's index is smaller
          best_ordered = ordered;
          best_index = (p << 16) + (0xffffu - (key & 0xffffu));
        }
      }
      argmax_out[r * 2u] = best_index;
      argmax_out[r * 2u + 1u] = 0u;
    }
    if (gl_LocalInvocationIndex == 0u) atomicExchange(argmax_state[0], 0u);
  }
}
#endif

// Shape constants (SHAPE in common.glsl): push words 0..3.
SHAPE_CONSTANT(8, S_M);
SHAPE_CONSTANT(9, S_N);
SHAPE_CONSTANT(10, S_K);
SHAPE_CONSTANT(11, S_FLAGS);

// Rows per block: M itself up to 16 when the pipeline is specialized to M
// (a batched decode step reads each weight once for all its rows, and a
// single row keeps one accumulator), else 4, which keeps the generic
// pipeline small to compile and light on registers.
const uint MAX_ROWS = S_M == 0u ? 4u : (S_M < 16u ? S_M : 16u);

// Dot product of two 16-byte vectors, accumulated in f32.
float dot16(uvec4 x, uvec4 y, float acc) {
#ifdef ELEM_F16
  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    const vec2 p = unpackHalf2x16(x[i]);
    const vec2 q = unpackHalf2x16(y[i]);
    acc = fma(p.x, q.x, acc);
    acc = fma(p.y, q.y, acc);
  }
#else
  const vec4 p = uintBitsToFloat(x);
  const vec4 q = uintBitsToFloat(y);
  [[unroll]] for (uint i = 0u; i < 4u; ++i) acc = fma(p[i], q[i], acc);
#endif
  return acc;
}

// Sum of x·g·y over two 16-byte vectors and a gain vector, in f32.
float dot16_gain(uvec4 x, uvec4 g, uvec4 y, float acc) {
#ifdef ELEM_F16
  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    const vec2 p = unpackHalf2x16(x[i]) * unpackHalf2x16(g[i]);
    const vec2 q = unpackHalf2x16(y[i]);
    acc = fma(p.x, q.x, acc);
    acc = fma(p.y, q.y, acc);
  }
#else
  const vec4 p = uintBitsToFloat(x) * uintBitsToFloat(g);
  const vec4 q = uintBitsToFloat(y);
  [[unroll]] for (uint i = 0u; i < 4u; ++i) acc = fma(p[i], q[i], acc);
#endif
  return acc;
}

// Task t's first output column: column t, or with a rope the first of its
// pair (i, i + Dh/2) in its head, i = t % (Dh/2).
uint task_column(uint t, bool rope) {
  const uint half_dim = pc.head_dim / 2u;
  return rope ? (t / half_dim) * pc.head_dim + t % half_dim : t;
}

// What storing output (row, c) reads besides the sums: the residual and
// the row's position (a rope's angle, a cache write's slot). The split-K
// path reads them before its weights (row_inputs), so that storing, which
// the whole workgroup waits for at a barrier, waits on no load: an H100's
// 8-stream step took 0.946-0.948 ms of device time against 1.010-1.012
// with them read after the reduction.
struct RowInputs {
  float skip;  // residual[row, c], or 0
  int pos;     // the row's position, or 0
};

RowInputs row_inputs(uint row, uint c, uint N, uint FLAGS) {
  RowInputs inputs;
  inputs.skip = (FLAGS & 4u) != 0u ? float(residual[row * N + c]) : 0.0;
  inputs.pos = (FLAGS & (32u | 128u)) != 0u ? row_position(row, FLAGS) : 0;
  return inputs;
}

// Writes output column c of `row` (and c + Dh/2 with a rope, i being the
// pair's first index in its head) from the row's reduced sums: `total`
// (bias added, rmsnorm applied) and `up_total`, the second weight row's
// sum (the up projection's with a gate, column c + Dh/2's with a rope).
void store_output(uint row, uint c, uint i, uint N, uint FLAGS, float total, float up_total,
                  RowInputs inputs) {
  const uint slot = output_slot_at(row, c, N, FLAGS, inputs.pos);
  if (slot == NO_SLOT) return;
  if ((FLAGS & 32u) != 0u) {
    // Rounded where the unfused projection would store them.
    const uint half_dim = pc.head_dim / 2u;
    const float first = float(ELEM(total));
    const float second = float(ELEM(up_total));
    const int pos = inputs.pos;
    const float inv_freq = exp2(-2.0 * float(i) / float(pc.head_dim) * pc.log2_base);
    const float theta = float(pos + int(row % pc.seq)) * inv_freq;
    const float cs = cos(theta);
    const float sn = sin(theta);
    o[slot] = ELEM(first * cs - second * sn);
    o[slot + half_dim] = ELEM(second * cs + first * sn);
  } else if ((FLAGS & 16u) != 0u) {
    // Rounded to the storage type where the unfused gate, up and silu
    // would store them, so both paths agree.
    const float g = float(ELEM(total));
    const float s = float(ELEM(g / (1.0 + exp(-g))));
    o[slot] = ELEM(s * float(ELEM(up_total)));
  } else {
    // As stored: the argmax compares the values a reader of o would see.
    const float stored = float(ELEM(total + inputs.skip));
    o[slot] = ELEM(stored);
#ifdef ELEM_F16
    if ((FLAGS & 256u) != 0u) {
      atomicMax(argmax_best[row * ARGMAX_PAGES + (c >> 16)], argmax_key(stored, c));
    }
#endif
  }
}

// Adds vector x of a row of A times weight vector w (and u, a second
// weight row's, when `paired`) to the row's sums, through the gain's
// vector gain_vec where it applies, and x·x to `squares` for a norm.
void add_vector(uvec4 x, uvec4 w, uvec4 u, uint gain_vec, bool paired, bool apply_gain,
                bool norm_rows, inout float acc, inout float acc_up, inout float squares) {
  if (apply_gain) {
    const uvec4 g = gain[gain_vec];
    acc = dot16_gain(x, g, w, acc);
    if (paired) acc_up = dot16_gain(x, g, u, acc_up);
  } else {
    acc = dot16(x, w, acc);
    if (paired) acc_up = dot16(x, u, acc_up);
  }
  if (norm_rows) squares = dot16(x, x, squares);
}

// One subgroup per output column (per pair of columns with a gate or a
// rope), its lanes splitting K: a single row reads its weights at full
// memory bandwidth this way.
void one_column_per_subgroup(uint M, uint N, uint K, uint FLAGS) {
  const bool has_bias = (FLAGS & 2u) != 0u;
  const bool norm_rows = (FLAGS & 8u) != 0u;
  const bool apply_gain = norm_rows && (FLAGS & 512u) == 0u;  // bit 9: folded into B
  const bool gated = (FLAGS & 16u) != 0u;
  const bool rope = (FLAGS & 32u) != 0u;
  const bool paired = gated || rope;  // two weight rows per subgroup
  const uint half_dim = pc.head_dim / 2u;
  // Rope: one task per pair of columns; else one per column.
  const uint tasks = rope ? N / 2u : N;
  const uint vecs = K / VEC;  // 16-byte vectors per row of A and B
  const uint lane = gl_SubgroupInvocationID;
  const uint lanes = gl_SubgroupSize;
  const uint columns = gl_NumWorkGroups.x * gl_NumSubgroups;
  for (uint t = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID; t < tasks; t += columns) {
    const uint i = rope ? t % half_dim : 0u;  // rope: the pair's first index in its head
    const uint c = task_column(t, rope);
    const uint column = c * vecs;
    // The second weight row: U's row c (gated) or B's row c + Dh/2 (rope).
    const uint column2 = rope ? (c + half_dim) * vecs : column;
    const float add = has_bias && !norm_rows ? float(bias[c]) : 0.0;
    // Rows in blocks of MAX_ROWS: after the first block the column's
    // weights come from the cache, so a short prompt reads them from
    // memory once.
    for (uint row0 = 0u; row0 < M; row0 += MAX_ROWS) {
      const uint rows = min(MAX_ROWS, M - row0);
      float acc[MAX_ROWS];
      float acc_up[MAX_ROWS];   // the second row's sums: U's (gated), c + Dh/2 (rope)
      float squares[MAX_ROWS];  // of each row of A, for the fused rmsnorm
      [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
        acc[r] = 0.0;
        acc_up[r] = 0.0;
        squares[r] = 0.0;
      }
      uint v = lane;
      // IN_FLIGHT weight vectors (twice that with a second row) in flight
      // per invocation before the first use: a 2048-wide f16 row is then
      // one round trip to memory per subgroup.
      for (; v + (IN_FLIGHT - 1u) * lanes < vecs; v += IN_FLIGHT * lanes) {
        uvec4 w[IN_FLIGHT];
        uvec4 u[IN_FLIGHT];
        [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) w[j] = b[column + v + j * lanes];
        if (gated) {
          [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) u[j] = up[column + v + j * lanes];
        } else if (rope) {
          [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) u[j] = b[column2 + v + j * lanes];
        }
        [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
          if (r < rows) {
            [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
              add_vector(a[(row0 + r) * vecs + v + j * lanes], w[j], u[j], v + j * lanes, paired,
                         apply_gain, norm_rows, acc[r], acc_up[r], squares[r]);
            }
          }
        }
      }
      for (; v < vecs; v += lanes) {
        const uvec4 w = b[column + v];
        const uvec4 u = gated ? up[column + v] : rope ? b[column2 + v] : uvec4(0u);
        [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
          if (r < rows) {
            add_vector(a[(row0 + r) * vecs + v], w, u, v, paired, apply_gain, norm_rows, acc[r],
                       acc_up[r], squares[r]);
          }
        }
      }
      [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
        if (r < rows) {
          const uint row = row0 + r;
          float total = subgroupAdd(acc[r]);
          float up_total = paired ? subgroupAdd(acc_up[r]) : 0.0;
          if (norm_rows) {
            const float inv_rms = inversesqrt(subgroupAdd(squares[r]) / float(K) + pc.eps);
            total *= inv_rms;
            up_total *= inv_rms;
          }
          // What storing reads is read here: read with the weights (all
          // lanes, before the loop) it made an H100's one-stream step
          // slower (0.606 against 0.602 ms), unlike the split-K path's.
          if (lane == 0u) {
            store_output(row, c, i, N, FLAGS, total + add, up_total, row_inputs(row, c, N, FLAGS));
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Split K, for batched rows (decode streams, short prompts). With one
// column per subgroup, every row of A is loaded and widened once per output
// column, so at 4+ rows the loads and conversions of A rather than the
// weights bound the product. Here a workgroup takes WEIGHT_ROWS weight rows
// (as many columns, or half as many pairs with a gate or a rope) for a
// block of up to BLOCK_ROWS rows of A, and each invocation a 16-byte slot
// of K at a time: a slot of A is loaded and widened once for all the
// weight rows, and a slot of weights once for all the rows of the block.
// The partial sums are reduced across each subgroup by a transposing
// butterfly and across the subgroups through shared memory. Each row's
// sums are added in the same order whatever the block, so the generic
// pipeline (which takes this path from 2 rows on too) and one specialized
// to the rows give the same bits.
const bool SPLIT = SPLIT_WEIGHT_ROWS != 0u && S_M != 1u;
const uint WEIGHT_ROWS = SPLIT_WEIGHT_ROWS < 2u ? 2u : SPLIT_WEIGHT_ROWS;
const uint BLOCK_ROWS =
    S_M == 0u ? SPLIT_BLOCK_ROWS : (S_M < 2u ? 2u : (S_M < SPLIT_BLOCK_ROWS ? S_M : SPLIT_BLOCK_ROWS));
// Sums per weight row: the block's rows padded to a power of two, which
// the butterfly halves.
const uint PADDED_ROWS = BLOCK_ROWS <= 2u ? 2u : (BLOCK_ROWS <= 4u ? 4u : 8u);
const uint SUMS = WEIGHT_ROWS * PADDED_ROWS;
// Subgroups the shared sums have room for: subgroups of at least 8 lanes
// (the host enables the path only for those, and main checks).
const uint MAX_SUBGROUPS = WG / 8u;
shared float split_sums[SPLIT ? MAX_SUBGROUPS * SUMS : 1u];
shared float split_squares[SPLIT ? MAX_SUBGROUPS * PADDED_ROWS : 1u];

// Sums vals[0..COUNT) over the subgroup, COUNT a power of two. At each
// step, lanes one bit apart swap half of what they hold: the lane with the
// bit set keeps the upper half, its partner the lower, and each adds what
// it receives, so a lane's count halves (COUNT - 1 shuffles in all, where
// a subgroupAdd per sum takes log2(lanes) each). Once a single sum is
// left, the remaining steps add it across their bit. A lane then holds
// max(1, COUNT / lanes) sums: vals[j] is sum number butterfly_base + j.
#define BUTTERFLY_SUM(vals, COUNT)                                       \
  [[unroll]] for (uint step = 0u; step < 7u; ++step) {                   \
    const uint mask = 1u << step;                                        \
    if (mask < gl_SubgroupSize) {                                        \
      const uint half_count = (COUNT) >> (step + 1u);                    \
      if (half_count == 0u) {                                            \
        vals[0] += subgroupShuffleXor(vals[0], mask);                    \
      } else {                                                           \
        const bool upper = (gl_SubgroupInvocationID & mask) != 0u;       \
        [[unroll]] for (uint j = 0u; j < (COUNT) / 2u; ++j) {            \
          if (j < half_count) {                                          \
            const float give = upper ? vals[j] : vals[j + half_count];   \
            const float keep = upper ? vals[j + half_count] : vals[j];   \
            vals[j] = keep + subgroupShuffleXor(give, mask);             \
          }                                                              \
        }                                                                \
      }                                                                  \
    }                                                                    \
  }

// Which of the COUNT sums this lane's vals[0] holds after BUTTERFLY_SUM.
uint butterfly_base(uint count) {
  uint base = 0u;
  for (uint step = 0u; step < 7u; ++step) {
    const uint mask = 1u << step;
    const uint half_count = count >> (step + 1u);
    if (mask < gl_SubgroupSize && half_count != 0u && (gl_SubgroupInvocationID & mask) != 0u) {
      base += half_count;
    }
  }
  return base;
}

// Stores this subgroup's COUNT sums into dest[subgroup * COUNT ..]: lanes
// past COUNT hold copies and store nothing.
#define STORE_SUMS(vals, COUNT, dest)                                               \
  if (gl_SubgroupInvocationID < (COUNT)) {                                          \
    const uint base = gl_SubgroupID * (COUNT) + butterfly_base(COUNT);              \
    const uint held = (COUNT) > gl_SubgroupSize ? (COUNT) / gl_SubgroupSize : 1u;   \
    [[unroll]] for (uint j = 0u; j < (COUNT); ++j) {                                \
      if (j < held) dest[base + j] = vals[j];                                       \
    }                                                                               \
  }

// Adds one 16-byte slot v of K to the block's sums: `raw` holds the slot
// of each weight row, and each row of the block from row0 on is loaded,
// widened (and normalized) once for all of them.
void accumulate_slot(uvec4 raw[WEIGHT_ROWS], uint v, uint vecs, uint row0, uint rows,
                     bool apply_gain, bool add_squares, inout float acc[SUMS],
                     inout float squares[PADDED_ROWS]) {
#ifdef F16_PRODUCTS
  // Packed f16 products (DeviceCaps::f16_products): at 8 rows a 16-byte
  // slot of one weight row takes 64 f32 FMAs plus the conversions, which
  // at a GPU's copy rate is most of its f32 issue rate. As f16 pairs it
  // takes 4 FMAs per (weight row, row of A), the 8 products of a slot
  // summed in f16 and then added to the f32 sum. (On an H100 this was 3%
  // slower at 8 rows and on an H200 2%: the f32 path is not bound by its
  // instructions there; docs/benchmarks.md.) A norm's squares (and gain)
  // need the row in f32: those slots take the f32 path below.
  if (!apply_gain && !add_squares) {
    f16vec2 wh[WEIGHT_ROWS][4];
    [[unroll]] for (uint w = 0u; w < WEIGHT_ROWS; ++w) {
      [[unroll]] for (uint i = 0u; i < 4u; ++i) wh[w][i] = unpackFloat2x16(raw[w][i]);
    }
    [[unroll]] for (uint r = 0u; r < BLOCK_ROWS; ++r) {
      if (r < rows) {
        const uvec4 xr = a[(row0 + r) * vecs + v];
        f16vec2 xh[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) xh[i] = unpackFloat2x16(xr[i]);
        [[unroll]] for (uint w = 0u; w < WEIGHT_ROWS; ++w) {
          f16vec2 s = xh[0] * wh[w][0];
          s = fma(xh[1], wh[w][1], s);
          s = fma(xh[2], wh[w][2], s);
          s = fma(xh[3], wh[w][3], s);
          acc[w * PADDED_ROWS + r] += float(s.x) + float(s.y);
        }
      }
    }
    return;
  }
#endif
  float weights[WEIGHT_ROWS][VEC];
  [[unroll]] for (uint w = 0u; w < WEIGHT_ROWS; ++w) unpack16(raw[w], weights[w]);
  float g[VEC];
  if (apply_gain) unpack16(gain[v], g);
  [[unroll]] for (uint r = 0u; r < BLOCK_ROWS; ++r) {
    if (r < rows) {
      float x[VEC];
      unpack16(a[(row0 + r) * vecs + v], x);
      if (add_squares) {
        [[unroll]] for (uint e = 0u; e < VEC; ++e) squares[r] = fma(x[e], x[e], squares[r]);
      }
      if (apply_gain) {
        [[unroll]] for (uint e = 0u; e < VEC; ++e) x[e] *= g[e];
      }
      [[unroll]] for (uint w = 0u; w < WEIGHT_ROWS; ++w) {
        [[unroll]] for (uint e = 0u; e < VEC; ++e) {
          acc[w * PADDED_ROWS + r] = fma(x[e], weights[w][e], acc[w * PADDED_ROWS + r]);
        }
      }
    }
  }
}

// Each weight row's first vector for the task group from t0 on; a task
// past the end reads t0's rows (and stores nothing).
void task_group_starts(uint t0, uint tasks, uint group_tasks, uint vecs, bool paired, bool rope,
                       out uint start[WEIGHT_ROWS]) {
  const uint half_dim = pc.head_dim / 2u;
  [[unroll]] for (uint w = 0u; w < WEIGHT_ROWS; ++w) {
    const bool second = paired && w >= group_tasks;
    const uint t = t0 + (second ? w - group_tasks : w);
    const uint task = t < tasks ? t : t0;
    const uint c = task_column(task, rope);
    start[w] = (rope && second ? c + half_dim : c) * vecs;
  }
}

// Slot v of every weight row of a task group.
void load_slot(uint start[WEIGHT_ROWS], uint v, uint group_tasks, bool gated,
               out uvec4 raw[WEIGHT_ROWS]) {
  [[unroll]] for (uint w = 0u; w < WEIGHT_ROWS; ++w) {
    raw[w] = gated && w >= group_tasks ? up[start[w] + v] : b[start[w] + v];
  }
}

// Slots of K per invocation a team aims at for an M-row product: the
// fewer rows, the less work per slot, so a few rows take more invocations
// per team. Mirrors matvec_team_slots_for_rows in shader_interface.hpp.
uint team_slots(uint M) { return M <= FEW_ROWS ? SPLIT_FEW_ROW_TEAM_SLOTS : SPLIT_TEAM_SLOTS; }

// Subgroups per team: enough that each invocation takes about `slots`
// of the vecs slots of K (0: the whole workgroup is one team), at least
// `storers` invocations (one per task and row of a task group stores
// it), a power of two up to the workgroup's subgroups. Mirrors
// matvec_split_team_subgroups in shader_interface.hpp, with which the
// host sizes the dispatch; the two only need to agree for speed.
uint split_team_subgroups(uint vecs, uint storers, uint slots) {
  const uint subgroups = gl_NumSubgroups;
  if (slots == 0u) return subgroups;
  const uint per_subgroup = slots * gl_SubgroupSize;
  uint team = 1u;
  while (team < subgroups && (team * per_subgroup < vecs || team * gl_SubgroupSize < storers)) {
    team *= 2u;
  }
  return team;
}

// team_slots(M), and for a product alone in its batch (flag bit 10, set
// by the host where this halves them) halved while its teams would fill
// fewer than SPLIT_MIN_GROUPS workgroups. Mirrors matvec_product_team_slots
// in shader_interface.hpp.
uint product_team_slots(uint M, uint vecs, uint storers, uint task_groups, uint FLAGS) {
  uint slots = team_slots(M);
  while (slots > 1u && SPLIT_MIN_GROUPS != 0u && (FLAGS & 1024u) != 0u) {
    const uint teams = gl_NumSubgroups / split_team_subgroups(vecs, storers, slots);
    if ((task_groups + teams - 1u) / teams >= SPLIT_MIN_GROUPS) break;
    slots /= 2u;
  }
  return slots;
}

// Orders a team's shared sums between their stores and loads. A team of
// one subgroup (`solo`, the same for the whole workgroup) keeps them in
// its own slice of split_sums and split_squares, so a subgroup barrier is
// enough and the workgroup's other teams go on to their next task group
// without waiting for the slowest; larger teams meet at the workgroup
// barrier.
void team_barrier(bool solo) {
  if (solo) {
    subgroupMemoryBarrierShared();
    subgroupBarrier();
  } else {
    barrier();
  }
}

void split_k(uint M, uint N, uint K, uint FLAGS) {
  const bool has_bias = (FLAGS & 2u) != 0u;
  const bool norm_rows = (FLAGS & 8u) != 0u;
  const bool gated = (FLAGS & 16u) != 0u;
  const bool rope = (FLAGS & 32u) != 0u;
  const bool paired = gated || rope;
  const uint half_dim = pc.head_dim / 2u;
  const uint tasks = rope ? N / 2u : N;
  // Tasks per workgroup: weight row w serves task w, or with a second
  // weight row per task, w - group_tasks's second row.
  const uint group_tasks = paired ? WEIGHT_ROWS / 2u : WEIGHT_ROWS;
  const uint vecs = K / VEC;
  // Teams: team_subgroups subgroups take a task group together, each
  // invocation about TEAM_SLOTS slots of K between two reductions, and the
  // workgroup's teams take task groups side by side
  // (split_team_subgroups), fewer slots each where the product is narrow
  // (product_team_slots).
  // Sized for 8 storing rows whatever the block, so that a pipeline
  // specialized to the rows and the generic one add in the same order.
  const uint task_groups = (tasks + group_tasks - 1u) / group_tasks;
  const uint storers = group_tasks * 8u;
  const uint team_subgroups =
      split_team_subgroups(vecs, storers, product_team_slots(M, vecs, storers, task_groups, FLAGS));
  const uint team_size = team_subgroups * gl_SubgroupSize;
  const uint teams = gl_NumSubgroups / team_subgroups;
  const uint team = gl_SubgroupID / team_subgroups;
  const uint first_subgroup = team * team_subgroups;
  // This invocation's index in its team.
  const uint tid = (gl_SubgroupID - first_subgroup) * gl_SubgroupSize + gl_SubgroupInvocationID;
  const bool solo = SPLIT_SOLO_TEAMS != 0u && team_subgroups == 1u;
  const uint all_teams = gl_NumWorkGroups.x * teams;
  // With a single block of rows, the rows' sums of squares are the same
  // for every task group: a team that takes several adds them up in its
  // first and keeps them in split_squares.
  const bool squares_once = norm_rows && M <= BLOCK_ROWS;
  const bool apply_gain = norm_rows && (FLAGS & 512u) == 0u;
  bool have_squares = false;
  // Rounds in step across the workgroup (it meets at barriers, unless its
  // teams are solo); a team past the last task group idles through a round.
  for (uint round0 = 0u; round0 < task_groups; round0 += all_teams) {
    const uint t0 = (round0 + gl_WorkGroupID.x * teams + team) * group_tasks;
    const bool busy = t0 < tasks;
    uint start[WEIGHT_ROWS];
    task_group_starts(busy ? t0 : 0u, tasks, group_tasks, vecs, paired, rope, start);
    for (uint row0 = 0u; row0 < M; row0 += BLOCK_ROWS) {
      const uint rows = min(BLOCK_ROWS, M - row0);
      float acc[SUMS];  // weight row w's sum for row r at w * PADDED_ROWS + r
      float squares[PADDED_ROWS];
      [[unroll]] for (uint j = 0u; j < SUMS; ++j) acc[j] = 0.0;
      [[unroll]] for (uint r = 0u; r < PADDED_ROWS; ++r) squares[r] = 0.0;
      // The invocation that stores (task j, row r) below reads what storing
      // needs now, while the weights load.
      const uint store_task = t0 + tid / PADDED_ROWS;
      const uint store_row = tid % PADDED_ROWS;
      const bool stores =
          busy && tid < group_tasks * PADDED_ROWS && store_row < rows && store_task < tasks;
      RowInputs store_inputs;
      if (stores) {
        store_inputs = row_inputs(row0 + store_row, task_column(store_task, rope), N, FLAGS);
      }
      const bool add_squares = norm_rows && !(squares_once && have_squares);
      for (uint v = tid; busy && v < vecs; v += team_size) {
        uvec4 raw[WEIGHT_ROWS];
        load_slot(start, v, group_tasks, gated, raw);
        accumulate_slot(raw, v, vecs, row0, rows, apply_gain, add_squares, acc, squares);
      }
      BUTTERFLY_SUM(acc, SUMS)
      STORE_SUMS(acc, SUMS, split_sums)
      if (add_squares) {
        BUTTERFLY_SUM(squares, PADDED_ROWS)
        STORE_SUMS(squares, PADDED_ROWS, split_squares)
      }
      team_barrier(solo);
      // One invocation per task and row of the block: task group member
      // j = tid / PADDED_ROWS (store_task), row store_row.
      if (stores) {
        const uint j = tid / PADDED_ROWS;
        float total = 0.0;
        float up_total = 0.0;
        float sum_squares = 0.0;
        for (uint s = first_subgroup; s < first_subgroup + team_subgroups; ++s) {
          total += split_sums[s * SUMS + j * PADDED_ROWS + store_row];
          if (paired) {
            up_total += split_sums[s * SUMS + (j + group_tasks) * PADDED_ROWS + store_row];
          }
          if (norm_rows) sum_squares += split_squares[s * PADDED_ROWS + store_row];
        }
        if (norm_rows) {
          const float inv_rms = inversesqrt(sum_squares / float(K) + pc.eps);
          total *= inv_rms;
          up_total *= inv_rms;
        } else if (has_bias) {
          total += float(bias[store_task]);
        }
        store_output(row0 + store_row, task_column(store_task, rope),
                     rope ? store_task % half_dim : 0u, N, FLAGS, total, up_total, store_inputs);
      }
      team_barrier(solo);  // the sums are stored again by the next block
    }
    have_squares = true;
  }
}

void main() {
  const uint M = SHAPE(S_M, pc.m);
  const uint N = SHAPE(S_N, pc.n);
  const uint K = SHAPE(S_K, pc.k);
  const uint FLAGS = SHAPE(S_FLAGS, pc.flags);
#ifdef ELEM_F16
  const bool argmax = (FLAGS & 256u) != 0u;
  if (argmax) argmax_start();
#endif
  if (SPLIT && M >= 2u && gl_NumSubgroups <= MAX_SUBGROUPS) {
    split_k(M, N, K, FLAGS);
  } else {
    one_column_per_subgroup(M, N, K, FLAGS);
  }
#ifdef ELEM_F16
  if (argmax) argmax_finish(M, N);
#endif
  chain_signal_workgroup(pc.chain_signal);
}
