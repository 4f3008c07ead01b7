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

const uint IN_FLIGHT = 8;  // 16-byte weight loads per invocation and row
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
    const uint c = rope ? (t / half_dim) * pc.head_dim + i : t;
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
              const uvec4 x = a[(row0 + r) * vecs + v + j * lanes];
              if (norm_rows) {
                const uvec4 g = gain[v + j * lanes];
                acc[r] = dot16_gain(x, g, w[j], acc[r]);
                if (paired) acc_up[r] = dot16_gain(x, g, u[j], acc_up[r]);
                squares[r] = dot16(x, x, squares[r]);
              } else {
                acc[r] = dot16(x, w[j], acc[r]);
                if (paired) acc_up[r] = dot16(x, u[j], acc_up[r]);
              }
            }
          }
        }
      }
      for (; v < vecs; v += lanes) {
        const uvec4 w = b[column + v];
        const uvec4 u = gated ? up[column + v] : rope ? b[column2 + v] : uvec4(0u);
        [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
          if (r < rows) {
            const uvec4 x = a[(row0 + r) * vecs + v];
            if (norm_rows) {
              acc[r] = dot16_gain(x, gain[v], w, acc[r]);
              if (paired) acc_up[r] = dot16_gain(x, gain[v], u, acc_up[r]);
              squares[r] = dot16(x, x, squares[r]);
            } else {
              acc[r] = dot16(x, w, acc[r]);
              if (paired) acc_up[r] = dot16(x, u, acc_up[r]);
            }
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
          if (lane == 0u) {
            if (rope) {
              // Rounded where the unfused projection would store them.
              const float first = float(ELEM(total));
              const float second = float(ELEM(up_total));
              const int pos = LOW_WORD(pos_words, (FLAGS & 64u) != 0u ? row / pc.seq : 0u);
              const float inv_freq = exp2(-2.0 * float(i) / float(pc.head_dim) * pc.log2_base);
              const float theta = float(pos + int(row % pc.seq)) * inv_freq;
              const float cs = cos(theta);
              const float sn = sin(theta);
              o[row * N + c] = ELEM(first * cs - second * sn);
              o[row * N + c + half_dim] = ELEM(second * cs + first * sn);
            } else if (gated) {
              // Rounded to the storage type where the unfused gate, up
              // and silu would store them, so both paths agree.
              const float g = float(ELEM(total));
              const float s = float(ELEM(g / (1.0 + exp(-g))));
              o[row * N + c] = ELEM(s * float(ELEM(up_total)));
            } else {
              const float skip = has_residual ? float(residual[row * N + c]) : 0.0;
              o[row * N + c] = ELEM(total + add + skip);
            }
          }
        }
      }
    }
  }
}
