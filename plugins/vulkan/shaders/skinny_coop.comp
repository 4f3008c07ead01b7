#version 450
// Skinny f16 product on tensor cores (VK_NV_cooperative_matrix):
// C[M, N] = A[M, K] · Bᵀ with B stored [N, K] (a `linear` weight as the
// engine stores it), for M = 1..16 rows: a batched decode step of up to 16
// streams. matvec_t.comp computes the same thing with scalar FMAs; at 4+
// rows its per-row loads, conversions and FMAs make it bound by
// instruction issue, while here one 16x16x16 product serves all the rows.
//
// A workgroup of 8 subgroups owns 16 output columns (one 16x16 tile of C,
// rows beyond M are zero) and splits K between its subgroups, so that even
// 2048 columns fill the GPU with 128 workgroups of 8 subgroups. Each
// subgroup walks steps of T k-tiles (step s, s + 8, ...; neighbouring
// subgroups read neighbouring bytes of every weight row). In a step it
// - loads T 16x16 tiles of Bᵀ straight from the weight buffer: column-major,
//   since a column of Bᵀ is a row of B, 32 contiguous bytes; the tiles of
//   the next step are already in flight while this one is multiplied;
// - copies its 16 x 16T slice of A into its own part of shared memory,
//   zero rows beyond M (only its own lanes read it: subgroup barriers),
//   from registers loaded with the previous step's weights;
// - accumulates T products in f32.
// The subgroups' partial tiles then meet in shared memory; each of the
// 256 invocations sums one element over the 8 subgroups and applies the
// epilogue of matvec_t.comp with the same flags and the same roundings:
// bias, residual, rmsnorm of A's rows (gain applied while staging; the
// per-row 1/rms after the product), gated silu(A·Bᵀ)·(A·Uᵀ), and rope.
//
// Builds (CMakeLists.txt, kSkinnyCoopBuilds): T_TILES sets T (default 4),
// SUBGROUP_COUNT the subgroups per workgroup (default 8), and STAGED makes
// each subgroup copy its weight tiles of the step into shared memory with
// 16-byte loads (8 lanes per 128 bytes of a weight row) and load the
// 16x16 tiles from there, instead of loading them from the weight buffer.
// The text above describes the defaults (t4s8); the plugin runs
// STAGED T_TILES=1 SUBGROUP_COUNT=16 (staged-t1s16) where the device can
// hold its workgroup: more warps per tile of columns is what kept enough
// weight bytes in flight on an H200.
//
// The encoder (kernels/skinny_product.hpp) uses it only when K % 16 == 0,
// N >= 16 (a last partial tile of columns is moved left to end at N and
// writes only its new columns) and, with rope, head_dim / 2 % 16 == 0;
// the subgroup size is 32 (checked with the device's cooperative-matrix
// support, coop_matrix.cpp).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

#ifndef T_TILES
#define T_TILES 4
#endif
#ifndef SUBGROUP_COUNT
#define SUBGROUP_COUNT 8
#endif
const uint L = 16;  // cooperative matrix side (M, N and K)
const uint SUBGROUPS = SUBGROUP_COUNT;
const uint SUBGROUP_SIZE = 32;  // checked on the host (DeviceCaps)
const uint THREADS = SUBGROUPS * SUBGROUP_SIZE;
const uint T = T_TILES;  // k-tiles per subgroup step
const uint HALVES_PER_VEC = 8;
// A slice in shared memory: 16 rows of 16T halves, padded by one vector
// so that the rows do not start on one bank.
const uint A_VECS_PER_ROW = T * L / HALVES_PER_VEC;
const uint A_STRIDE = A_VECS_PER_ROW + 1u;  // in uvec4
const uint A_SLICE = L * A_STRIDE;          // uvec4 per subgroup
const uint LANES_PER_ROW = SUBGROUP_SIZE / L;
const uint TILE_VECS = L * L / 4u;  // one f32 16x16 tile in uvec4
#ifdef STAGED
// Staged weights: each subgroup copies its 16 weight rows x 16T halves
// (two such slices with a gate or rope) with 16-byte coalesced loads into
// shared memory, laid out like the A slice, and loads the tiles from there.
const uint W_SLICE = A_SLICE;
const uint W_PER_LANE = L * A_VECS_PER_ROW / SUBGROUP_SIZE;  // uvec4 per lane and slice
const uint A_POOL = SUBGROUPS * (A_SLICE + 2u * W_SLICE);
#else
const uint A_POOL = SUBGROUPS * A_SLICE;
#endif
// The A slices (and staged weight slices), and after the K loop (a barrier
// apart) the partial tiles of every subgroup (two per subgroup with a gate
// or rope).
const uint C_POOL = SUBGROUPS * 2u * TILE_VECS;
shared uvec4 pool[A_POOL > C_POOL ? A_POOL : C_POOL];
shared float squares_part[THREADS];  // per lane: sum of squares of its row of A

layout(local_size_x = SUBGROUP_COUNT * 32, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer InA { uvec4 a[]; };
layout(std430, binding = 1) readonly buffer InB { uvec4 b[]; };
layout(std430, binding = 2) readonly buffer InBias { float16_t bias[]; };
// With bit 3 of flags the same binding holds the rmsnorm gain g[K].
layout(std430, binding = 2) readonly buffer InGain { uvec4 gain[]; };
layout(std430, binding = 3) writeonly buffer Out { float16_t o[]; };
layout(std430, binding = 4) readonly buffer InResidual { float16_t residual[]; };
// With bit 4 of flags the same binding holds the second (up) weight U[N, K].
layout(std430, binding = 4) readonly buffer InUp { uvec4 up[]; };
// With bit 5 or 7 of flags the same binding holds the i64 position.
layout(std430, binding = 4) readonly buffer InPos { uint pos_words[]; };

// Mirrors MatvecPush in shader_interface.hpp (the flags of matvec_t.comp).
layout(push_constant) uniform Push {
  uint m;
  uint n;
  uint k;
  uint flags;
  float eps;
  uint head_dim;
  uint seq;
  float log2_base;
  uint cache_len;
} pc;

#include "cache_slot.glsl"

// Shape constants (SHAPE in common.glsl): push words 0..3.
SHAPE_CONSTANT(8, S_M);
SHAPE_CONSTANT(9, S_N);
SHAPE_CONSTANT(10, S_K);
SHAPE_CONSTANT(11, S_FLAGS);

float f16_round(float x) { return float(float16_t(x)); }

void main() {
  const uint M = SHAPE(S_M, pc.m);
  const uint N = SHAPE(S_N, pc.n);
  const uint K = SHAPE(S_K, pc.k);
  const uint FLAGS = SHAPE(S_FLAGS, pc.flags);
  const bool has_bias = (FLAGS & 2u) != 0u;
  const bool has_residual = (FLAGS & 4u) != 0u;
  const bool norm_rows = (FLAGS & 8u) != 0u;
  const bool gated = (FLAGS & 16u) != 0u;
  const bool rope = (FLAGS & 32u) != 0u;
  const bool paired = gated || rope;  // a second tile of weights per step
  const uint half_dim = pc.head_dim / 2u;
  const uint KV = K / HALVES_PER_VEC;  // uvec4 per row of A and B
  const uint k_tiles = K / L;
  const uint steps = (k_tiles + T - 1u) / T;
  const uint sub = gl_SubgroupID;
  const uint lane = gl_SubgroupInvocationID;
  const uint tid = gl_LocalInvocationID.x;
  // The row of A this lane stages, and its first vector in a step.
  const uint a_row = lane / LANES_PER_ROW;
  const uint a_vec = lane % LANES_PER_ROW;
  const uint slice = sub * A_SLICE;

  // Rope: a tile is 16 pairs of columns (i, i + Dh/2) of one head; else 16
  // columns.
  const uint tiles = rope ? N / 2u / L : (N + L - 1u) / L;
  for (uint t = gl_WorkGroupID.x; t < tiles; t += gl_NumWorkGroups.x) {
    uint first;  // first column this tile writes
    uint n0;     // first column of the tile's weights
    uint n1;     // first column of the second tile's weights
    if (rope) {
      const uint p0 = t * L;
      n0 = (p0 / half_dim) * pc.head_dim + p0 % half_dim;
      n1 = n0 + half_dim;
      first = n0;
    } else {
      first = t * L;
      n0 = min(first, N - L);
      n1 = n0;
    }

    fcoopmatNV<32, gl_ScopeSubgroup, L, L> acc = fcoopmatNV<32, gl_ScopeSubgroup, L, L>(0.0);
    fcoopmatNV<32, gl_ScopeSubgroup, L, L> acc2 = fcoopmatNV<32, gl_ScopeSubgroup, L, L>(0.0);
    fcoopmatNV<16, gl_ScopeSubgroup, L, L> w[T];
    fcoopmatNV<16, gl_ScopeSubgroup, L, L> w2[T];
    fcoopmatNV<16, gl_ScopeSubgroup, L, L> w_next[T];
    fcoopmatNV<16, gl_ScopeSubgroup, L, L> w2_next[T];
    float squares = 0.0;

    // This lane's vectors of A (and of the gain) for the current step,
    // zero beyond M rows and K; the next step's are fetched with its
    // weights, so a step waits on nothing but the previous one's loads.
#ifdef STAGED
    uvec4 xs[T];
    uvec4 gs[T];
    uvec4 xs_next[T];
    uvec4 gs_next[T];
    // This lane's share of the step's weight slices (16 rows x 16T halves,
    // 8-lane runs of 16-byte vectors along each row), staged through shared
    // memory; the next step's are fetched while this one is multiplied.
    uvec4 ws_next[W_PER_LANE];
    uvec4 ws2_next[W_PER_LANE];
    const uint w_slice = SUBGROUPS * A_SLICE + sub * 2u * W_SLICE;
    for (uint step = sub; step < steps + SUBGROUPS; step += SUBGROUPS) {
      // Iteration `step` fetches step `step` and multiplies step - SUBGROUPS.
      const bool fetch = step < steps;
      if (fetch) {
        [[unroll]] for (uint j = 0u; j < W_PER_LANE; ++j) {
          const uint v = j * SUBGROUP_SIZE + lane;
          const uint row = v / A_VECS_PER_ROW;
          const uint col = step * A_VECS_PER_ROW + v % A_VECS_PER_ROW;
          const bool valid = col < KV;
          ws_next[j] = valid ? b[(n0 + row) * KV + col] : uvec4(0u);
          if (gated) ws2_next[j] = valid ? up[(n0 + row) * KV + col] : uvec4(0u);
          if (rope) ws2_next[j] = valid ? b[(n1 + row) * KV + col] : uvec4(0u);
        }
        [[unroll]] for (uint j = 0u; j < T; ++j) {
          const uint kv = step * A_VECS_PER_ROW + a_vec + j * LANES_PER_ROW;
          const bool valid = a_row < M && kv < KV;
          xs_next[j] = valid ? a[a_row * KV + kv] : uvec4(0u);
          gs_next[j] = valid && norm_rows ? gain[kv] : uvec4(0u);
        }
      }
      if (step >= SUBGROUPS) {
        const uint prev = step - SUBGROUPS;
        [[unroll]] for (uint j = 0u; j < T; ++j) {
          if (prev * T + j < k_tiles) {
            fcoopmatNV<16, gl_ScopeSubgroup, L, L> x;
            fcoopmatNV<16, gl_ScopeSubgroup, L, L> w;
            coopMatLoadNV(x, pool, slice + j * (L / HALVES_PER_VEC), A_STRIDE, false);
            coopMatLoadNV(w, pool, w_slice + j * (L / HALVES_PER_VEC), A_STRIDE, true);
            acc = coopMatMulAddNV(x, w, acc);
            if (paired) {
              coopMatLoadNV(w, pool, w_slice + W_SLICE + j * (L / HALVES_PER_VEC), A_STRIDE, true);
              acc2 = coopMatMulAddNV(x, w, acc2);
            }
          }
        }
        // Every lane's reads of the slices are done before they are refilled.
        subgroupBarrier();
      }
      if (fetch) {
        // The fetched step into shared memory: A times the gain with a
        // fused rmsnorm (whose sum of squares is taken on the way).
        [[unroll]] for (uint j = 0u; j < W_PER_LANE; ++j) {
          const uint v = j * SUBGROUP_SIZE + lane;
          const uint at = w_slice + (v / A_VECS_PER_ROW) * A_STRIDE + v % A_VECS_PER_ROW;
          pool[at] = ws_next[j];
          if (paired) pool[at + W_SLICE] = ws2_next[j];
        }
        [[unroll]] for (uint j = 0u; j < T; ++j) {
          uvec4 x = xs_next[j];
          if (norm_rows) {
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
              const vec2 p = unpackHalf2x16(x[i]);
              squares = fma(p.x, p.x, fma(p.y, p.y, squares));
              x[i] = packHalf2x16(p * unpackHalf2x16(gs_next[j][i]));
            }
          }
          pool[slice + a_row * A_STRIDE + a_vec + j * LANES_PER_ROW] = x;
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();
      }
    }

#else
    uvec4 xs[T];
    uvec4 gs[T];
    uvec4 xs_next[T];
    uvec4 gs_next[T];
    if (sub < steps) {
      [[unroll]] for (uint j = 0u; j < T; ++j) {
        const uint tile = sub * T + j;
        if (tile < k_tiles) {
          coopMatLoadNV(w[j], b, n0 * KV + tile * 2u, KV, true);
          if (gated) coopMatLoadNV(w2[j], up, n0 * KV + tile * 2u, KV, true);
          if (rope) coopMatLoadNV(w2[j], b, n1 * KV + tile * 2u, KV, true);
        }
        const uint kv = sub * A_VECS_PER_ROW + a_vec + j * LANES_PER_ROW;
        const bool valid = a_row < M && kv < KV;
        xs[j] = valid ? a[a_row * KV + kv] : uvec4(0u);
        gs[j] = valid && norm_rows ? gain[kv] : uvec4(0u);
      }
    }
    for (uint step = sub; step < steps; step += SUBGROUPS) {
      const uint next = step + SUBGROUPS;
      if (next < steps) {
        [[unroll]] for (uint j = 0u; j < T; ++j) {
          const uint tile = next * T + j;
          if (tile < k_tiles) {
            coopMatLoadNV(w_next[j], b, n0 * KV + tile * 2u, KV, true);
            if (gated) coopMatLoadNV(w2_next[j], up, n0 * KV + tile * 2u, KV, true);
            if (rope) coopMatLoadNV(w2_next[j], b, n1 * KV + tile * 2u, KV, true);
          }
          const uint kv = next * A_VECS_PER_ROW + a_vec + j * LANES_PER_ROW;
          const bool valid = a_row < M && kv < KV;
          xs_next[j] = valid ? a[a_row * KV + kv] : uvec4(0u);
          gs_next[j] = valid && norm_rows ? gain[kv] : uvec4(0u);
        }
      }
      // This step's slice of A into shared memory, times the gain with a
      // fused rmsnorm (whose sum of squares is taken on the way).
      [[unroll]] for (uint j = 0u; j < T; ++j) {
        uvec4 x = xs[j];
        if (norm_rows) {
          [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            const vec2 p = unpackHalf2x16(x[i]);
            squares = fma(p.x, p.x, fma(p.y, p.y, squares));
            x[i] = packHalf2x16(p * unpackHalf2x16(gs[j][i]));
          }
        }
        pool[slice + a_row * A_STRIDE + a_vec + j * LANES_PER_ROW] = x;
      }
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      [[unroll]] for (uint j = 0u; j < T; ++j) {
        if (step * T + j < k_tiles) {
          fcoopmatNV<16, gl_ScopeSubgroup, L, L> x;
          coopMatLoadNV(x, pool, slice + j * (L / HALVES_PER_VEC), A_STRIDE, false);
          acc = coopMatMulAddNV(x, w[j], acc);
          if (paired) acc2 = coopMatMulAddNV(x, w2[j], acc2);
        }
      }
      // Every lane's reads of the slice are done before it is refilled.
      subgroupBarrier();
      [[unroll]] for (uint j = 0u; j < T; ++j) {
        w[j] = w_next[j];
        w2[j] = w2_next[j];
        xs[j] = xs_next[j];
        gs[j] = gs_next[j];
      }
    }

#endif
    barrier();  // every subgroup is done with its slice of A: reuse the pool
    coopMatStoreNV(acc, pool, (sub * 2u) * TILE_VECS, L / 4u, false);
    if (paired) coopMatStoreNV(acc2, pool, (sub * 2u + 1u) * TILE_VECS, L / 4u, false);
    squares_part[sub * SUBGROUP_SIZE + lane] = squares;
    barrier();

    // Any invocation may take any element.
    for (uint e = tid; e < L * L; e += THREADS) {
      const uint row = e / L;
      const uint j = e % L;
      if (row >= M) break;
      float total = 0.0;
      float total2 = 0.0;
      float row_squares = 0.0;
      [[unroll]] for (uint s = 0u; s < SUBGROUPS; ++s) {
        const uint f = (s * 2u) * TILE_VECS * 4u + row * L + j;
        total += uintBitsToFloat(pool[f / 4u][f % 4u]);
        if (paired) {
          const uint f2 = f + TILE_VECS * 4u;
          total2 += uintBitsToFloat(pool[f2 / 4u][f2 % 4u]);
        }
        [[unroll]] for (uint l = 0u; l < LANES_PER_ROW; ++l) {
          row_squares += squares_part[s * SUBGROUP_SIZE + row * LANES_PER_ROW + l];
        }
      }
      if (norm_rows) {
        const float inv_rms = inversesqrt(row_squares / float(K) + pc.eps);
        total *= inv_rms;
        total2 *= inv_rms;
      }
      const uint c = n0 + j;
      const uint slot = output_slot(row, c, N, FLAGS);
      if (slot == NO_SLOT) continue;
      if (rope) {
        // Rounded where the unfused projection would store them.
        const float x1 = f16_round(total);
        const float x2 = f16_round(total2);
        const uint i = c % pc.head_dim;
        const int pos = LOW_WORD(pos_words, (FLAGS & 64u) != 0u ? row / pc.seq : 0u);
        const float inv_freq = exp2(-2.0 * float(i) / float(pc.head_dim) * pc.log2_base);
        const float theta = float(pos + int(row % pc.seq)) * inv_freq;
        const float cs = cos(theta);
        const float sn = sin(theta);
        o[slot] = float16_t(x1 * cs - x2 * sn);
        o[slot + half_dim] = float16_t(x2 * cs + x1 * sn);
      } else if (c >= first) {
        if (gated) {
          // Rounded where the unfused gate, up and silu would store them.
          const float g = f16_round(total);
          const float s = f16_round(g / (1.0 + exp(-g)));
          o[slot] = float16_t(s * f16_round(total2));
        } else {
          const float add = has_bias && !norm_rows ? float(bias[c]) : 0.0;
          const float skip = has_residual ? float(residual[row * N + c]) : 0.0;
          o[slot] = float16_t(total + add + skip);
        }
      }
    }
    barrier();  // the pool is refilled by the next tile
  }
}
