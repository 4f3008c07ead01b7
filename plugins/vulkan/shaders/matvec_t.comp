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
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

#ifdef ELEM_F16
const uint VEC = 8;  // halves per uvec4
#else
const uint VEC = 4;  // floats per uvec4
#endif

layout(std430, binding = 0) readonly buffer InA { uvec4 a[]; };
layout(std430, binding = 1) readonly buffer InB { uvec4 b[]; };
layout(std430, binding = 2) readonly buffer InBias { ELEM bias[]; };
// With bit 3 of flags the same binding holds the rmsnorm gain g[K].
layout(std430, binding = 2) readonly buffer InGain { uvec4 gain[]; };
layout(std430, binding = 3) writeonly buffer Out { ELEM o[]; };
layout(std430, binding = 4) readonly buffer InResidual { ELEM residual[]; };
// With bit 4 of flags the same binding holds the second (up) weight U[N, K].
layout(std430, binding = 4) readonly buffer InUp { uvec4 up[]; };
// With bit 5 of flags the same binding holds the i64 position.
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
               // bit 6: with bit 5, one position per batch row (pos [B])
  float eps;   // bit 3
  uint head_dim;     // bit 5
  uint seq;          // bit 5
  float log2_base;   // bit 5
} pc;

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
// Columns per subgroup. One row: one, with the most weight loads in
// flight. Several rows (a batched decode step): each lane's slice of a row
// of A is loaded and converted once for COLS columns instead of once per
// column, which at 8 rows would otherwise take more load and convert
// instructions than the products themselves.
const uint COLS = S_M <= 1u ? 1u : (S_M <= 8u ? 4u : 2u);
// 16-byte weight loads per invocation, column and row of weights.
const uint IN_FLIGHT = 8u / COLS;

// The VEC elements of a 16-byte vector, in f32.
void unpack16(uvec4 x, out float f[VEC]) {
#ifdef ELEM_F16
  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    const vec2 p = unpackHalf2x16(x[i]);
    f[2u * i] = p.x;
    f[2u * i + 1u] = p.y;
  }
#else
  const vec4 p = uintBitsToFloat(x);
  [[unroll]] for (uint i = 0u; i < 4u; ++i) f[i] = p[i];
#endif
}

// acc + x·y for x already in f32, accumulated in f32 element by element.
float dot16_f(float x[VEC], uvec4 y, float acc) {
  float q[VEC];
  unpack16(y, q);
  [[unroll]] for (uint i = 0u; i < VEC; ++i) acc = fma(x[i], q[i], acc);
  return acc;
}

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
  const bool paired = gated || rope;  // two weight rows per column
  const uint half_dim = pc.head_dim / 2u;
  // Rope: one task per pair of columns; else one per column.
  const uint tasks = rope ? N / 2u : N;
  const uint vecs = K / VEC;  // 16-byte vectors per row of A and B
  const uint lane = gl_SubgroupInvocationID;
  const uint lanes = gl_SubgroupSize;
  const uint stride = gl_NumWorkGroups.x * gl_NumSubgroups * COLS;
  for (uint t0 = (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) * COLS; t0 < tasks;
       t0 += stride) {
    uint i[COLS];        // rope: the pair's first index in its head
    uint c[COLS];        // the output column
    uint column[COLS];   // its weight row, in vectors
    uint column2[COLS];  // the second weight row: U's row c (gated) or B's row c + Dh/2 (rope)
    float add[COLS];
    [[unroll]] for (uint cc = 0u; cc < COLS; ++cc) {
      // A column past the end computes a copy of the first and is not stored.
      const uint t = t0 + cc < tasks ? t0 + cc : t0;
      i[cc] = rope ? t % half_dim : 0u;
      c[cc] = rope ? (t / half_dim) * pc.head_dim + i[cc] : t;
      column[cc] = c[cc] * vecs;
      column2[cc] = rope ? (c[cc] + half_dim) * vecs : column[cc];
      add[cc] = has_bias && !norm_rows ? float(bias[c[cc]]) : 0.0;
    }
    // Rows in blocks of MAX_ROWS: after the first block the columns'
    // weights come from the cache, so a short prompt reads them from
    // memory once.
    for (uint row0 = 0u; row0 < M; row0 += MAX_ROWS) {
      const uint rows = min(MAX_ROWS, M - row0);
      float acc[COLS][MAX_ROWS];
      float acc_up[COLS][MAX_ROWS];  // the second weight row's sums
      float squares[MAX_ROWS];       // of each row of A, for the fused rmsnorm
      [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
        squares[r] = 0.0;
        [[unroll]] for (uint cc = 0u; cc < COLS; ++cc) {
          acc[cc][r] = 0.0;
          acc_up[cc][r] = 0.0;
        }
      }
      uint v = lane;
      // IN_FLIGHT weight vectors per column (twice that with a second
      // row) in flight per invocation before the first use: a 2048-wide
      // f16 row is then one round trip to memory per subgroup.
      for (; v + (IN_FLIGHT - 1u) * lanes < vecs; v += IN_FLIGHT * lanes) {
        uvec4 w[COLS][IN_FLIGHT];
        uvec4 u[COLS][IN_FLIGHT];
        [[unroll]] for (uint cc = 0u; cc < COLS; ++cc) {
          [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
            w[cc][j] = b[column[cc] + v + j * lanes];
            if (gated) {
              u[cc][j] = up[column[cc] + v + j * lanes];
            } else if (rope) {
              u[cc][j] = b[column2[cc] + v + j * lanes];
            }
          }
        }
        [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
          if (r < rows) {
            [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
              const uvec4 x = a[(row0 + r) * vecs + v + j * lanes];
              float xf[VEC];
              unpack16(x, xf);
              if (norm_rows) {
                squares[r] = dot16_f(xf, x, squares[r]);
                float g[VEC];
                unpack16(gain[v + j * lanes], g);
                [[unroll]] for (uint e = 0u; e < VEC; ++e) xf[e] *= g[e];
              }
              [[unroll]] for (uint cc = 0u; cc < COLS; ++cc) {
                acc[cc][r] = dot16_f(xf, w[cc][j], acc[cc][r]);
                if (paired) acc_up[cc][r] = dot16_f(xf, u[cc][j], acc_up[cc][r]);
              }
            }
          }
        }
      }
      for (; v < vecs; v += lanes) {
        uvec4 w[COLS];
        uvec4 u[COLS];
        [[unroll]] for (uint cc = 0u; cc < COLS; ++cc) {
          w[cc] = b[column[cc] + v];
          u[cc] = gated ? up[column[cc] + v] : rope ? b[column2[cc] + v] : uvec4(0u);
        }
        [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
          if (r < rows) {
            const uvec4 x = a[(row0 + r) * vecs + v];
            float xf[VEC];
            unpack16(x, xf);
            if (norm_rows) {
              squares[r] = dot16_f(xf, x, squares[r]);
              float g[VEC];
              unpack16(gain[v], g);
              [[unroll]] for (uint e = 0u; e < VEC; ++e) xf[e] *= g[e];
            }
            [[unroll]] for (uint cc = 0u; cc < COLS; ++cc) {
              acc[cc][r] = dot16_f(xf, w[cc], acc[cc][r]);
              if (paired) acc_up[cc][r] = dot16_f(xf, u[cc], acc_up[cc][r]);
            }
          }
        }
      }
      [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
        if (r < rows) {
          const uint row = row0 + r;
          const float inv_rms =
              norm_rows ? inversesqrt(subgroupAdd(squares[r]) / float(K) + pc.eps) : 1.0;
          [[unroll]] for (uint cc = 0u; cc < COLS; ++cc) {
            float total = subgroupAdd(acc[cc][r]) * inv_rms;
            float up_total = paired ? subgroupAdd(acc_up[cc][r]) * inv_rms : 0.0;
            if (lane == 0u && t0 + cc < tasks) {
              const uint col = c[cc];
              if (rope) {
                // Rounded where the unfused projection would store them.
                const float first = float(ELEM(total));
                const float second = float(ELEM(up_total));
                const int pos = LOW_WORD(pos_words, (FLAGS & 64u) != 0u ? row / pc.seq : 0u);
                const float inv_freq =
                    exp2(-2.0 * float(i[cc]) / float(pc.head_dim) * pc.log2_base);
                const float theta = float(pos + int(row % pc.seq)) * inv_freq;
                const float cs = cos(theta);
                const float sn = sin(theta);
                o[row * N + col] = ELEM(first * cs - second * sn);
                o[row * N + col + half_dim] = ELEM(second * cs + first * sn);
              } else if (gated) {
                // Rounded to the storage type where the unfused gate, up
                // and silu would store them, so both paths agree.
                const float g = float(ELEM(total));
                const float s = float(ELEM(g / (1.0 + exp(-g))));
                o[row * N + col] = ELEM(s * float(ELEM(up_total)));
              } else {
                const float skip = has_residual ? float(residual[row * N + col]) : 0.0;
                o[row * N + col] = ELEM(total + add[cc] + skip);
              }
            }
          }
        }
      }
    }
  }
}
