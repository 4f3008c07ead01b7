#version 450
// Skinny matmul for decode steps: C[M, N] = A[M, K] · B[K, N] (+ bias) with
// M ≤ MAX_ROWS. The tiled shader would leave most of a 64-row tile idle;
// here a workgroup covers COLS adjacent columns (coalesced reads of B's
// rows) and splits K into WG/COLS slices whose partial sums are reduced
// through shared memory.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // a power of two >= COLS

const uint COLS = 32;
const uint MAX_ROWS = 4;

layout(std430, binding = 0) readonly buffer InA { ELEM a[]; };
layout(std430, binding = 1) readonly buffer InB { ELEM b[]; };
layout(std430, binding = 2) readonly buffer InBias { ELEM bias[]; };
layout(std430, binding = 3) writeonly buffer Out { ELEM o[]; };

// Mirrors MatvecPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint m;
  uint n;
  uint k;
  uint flags;  // bit 1: add bias[N] (bit 0, transpose_b, is never set here)
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..3.
SHAPE_CONSTANT(8, S_M);
SHAPE_CONSTANT(9, S_N);
SHAPE_CONSTANT(10, S_K);
SHAPE_CONSTANT(11, S_FLAGS);

shared float partial[MAX_ROWS * WG];

void main() {
  const uint M = SHAPE(S_M, pc.m);
  const uint N = SHAPE(S_N, pc.n);
  const uint K = SHAPE(S_K, pc.k);
  const uint FLAGS = SHAPE(S_FLAGS, pc.flags);
  const uint lid = gl_LocalInvocationID.x;
  const uint column = lid % COLS;
  const uint slice = lid / COLS;
  const uint slices = WG / COLS;
  const bool has_bias = (FLAGS & 2u) != 0u;
  for (uint base = gl_WorkGroupID.x * COLS; base < N; base += gl_NumWorkGroups.x * COLS) {
    const uint c = base + column;
    float acc[MAX_ROWS];
    [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) acc[r] = 0.0;
    if (c < N) {
      for (uint kk = slice; kk < K; kk += slices) {
        const float bv = float(b[kk * N + c]);
        [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
          if (r < M) acc[r] = fma(float(a[r * K + kk]), bv, acc[r]);
        }
      }
    }
    [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) partial[r * WG + lid] = acc[r];
    barrier();
    for (uint s = slices / 2u; s > 0u; s >>= 1u) {
      if (slice < s) {
        [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
          partial[r * WG + lid] += partial[r * WG + lid + s * COLS];
        }
      }
      barrier();
    }
    if (slice == 0u && c < N) {
      const float add = has_bias ? float(bias[c]) : 0.0;
      [[unroll]] for (uint r = 0u; r < MAX_ROWS; ++r) {
        if (r < M) o[r * N + c] = ELEM(partial[r * WG + lid] + add);
      }
    }
    barrier();  // partial is rewritten by the next column block
  }
}
