#version 450
// matmul and linear: C[batch] = A[batch] · B[batch] (+ bias), tiled through
// shared memory. A workgroup of TX×TY invocations computes a BM×BN tile of C;
// each invocation accumulates R×R outputs in registers (R = 8 on GPUs, 4 on
// CPU drivers: DeviceCaps::tile_regs), strided by the workgroup size so that
// neighbouring invocations touch neighbouring columns. Shapes come in push
// constants, so one pipeline serves every shape.
#include "common.glsl"
// Register tiles must be fully unrolled: a private array indexed in a loop
// stays in memory on some compilers (lavapipe's LLVM path then gathers and
// scatters per invocation, ~10x slower).
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint TX = 16;
layout(constant_id = 1) const uint TY = 16;
layout(constant_id = 2) const uint R = 4;

const uint RM = R;
const uint RN = R;
const uint BK = 16;
const uint BM = TY * RM;
const uint BN = TX * RN;

// Tiles stored k-major so the inner loop reads both with unit stride.
shared float a_tile[BK * BM];
shared float b_tile[BK * BN];

layout(std430, binding = 0) readonly buffer InA { ELEM a[]; };
layout(std430, binding = 1) readonly buffer InB { ELEM b[]; };
layout(std430, binding = 2) readonly buffer InBias { ELEM bias[]; };
layout(std430, binding = 3) writeonly buffer Out { ELEM o[]; };

// Mirrors MatmulPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint m;
  uint n;
  uint k;
  uint flags;  // bit 0: b is [N, K] (transpose_b); bit 1: add bias[N]
  uint batches;
  uint batch_dims[3];       // output batch dims, merged to three
  uint a_batch_strides[3];  // elements; 0 along broadcast dims
  uint b_batch_strides[3];
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..4.
SHAPE_CONSTANT(8, S_M);
SHAPE_CONSTANT(9, S_N);
SHAPE_CONSTANT(10, S_K);
SHAPE_CONSTANT(11, S_FLAGS);
SHAPE_CONSTANT(12, S_BATCHES);

void main() {
  const uint M = SHAPE(S_M, pc.m);
  const uint N = SHAPE(S_N, pc.n);
  const uint K = SHAPE(S_K, pc.k);
  const uint FLAGS = SHAPE(S_FLAGS, pc.flags);
  const uint BATCHES = SHAPE(S_BATCHES, pc.batches);
  const uint tx = gl_LocalInvocationID.x;
  const uint ty = gl_LocalInvocationID.y;
  const uint tid = ty * TX + tx;
  const uint threads = TX * TY;
  const uint row0 = gl_WorkGroupID.y * BM;
  const uint col0 = gl_WorkGroupID.x * BN;
  const bool b_transposed = (FLAGS & 1u) != 0u;
  const bool has_bias = (FLAGS & 2u) != 0u;

  for (uint batch = gl_WorkGroupID.z; batch < BATCHES; batch += gl_NumWorkGroups.z) {
    uint rest = batch;
    uint a_base = 0u;
    uint b_base = 0u;
    for (int d = 2; d >= 0; --d) {
      const uint index = rest % pc.batch_dims[d];
      rest /= pc.batch_dims[d];
      a_base += index * pc.a_batch_strides[d];
      b_base += index * pc.b_batch_strides[d];
    }
    const uint o_base = batch * M * N;

    float acc[RM][RN];
    [[unroll]] for (uint i = 0u; i < RM; ++i) {
      [[unroll]] for (uint j = 0u; j < RN; ++j) acc[i][j] = 0.0;
    }

    for (uint k0 = 0u; k0 < K; k0 += BK) {
      for (uint l = tid; l < BM * BK; l += threads) {
        const uint r = l / BK;
        const uint kk = l % BK;
        const uint gr = row0 + r;
        const uint gk = k0 + kk;
        a_tile[kk * BM + r] = (gr < M && gk < K) ? float(a[a_base + gr * K + gk]) : 0.0;
      }
      for (uint l = tid; l < BN * BK; l += threads) {
        // Read along B's contiguous dim in either layout.
        const uint c = b_transposed ? l / BK : l % BN;
        const uint kk = b_transposed ? l % BK : l / BN;
        const uint gc = col0 + c;
        const uint gk = k0 + kk;
        float v = 0.0;
        if (gc < N && gk < K) {
          v = float(b[b_base + (b_transposed ? gc * K + gk : gk * N + gc)]);
        }
        b_tile[kk * BN + c] = v;
      }
      barrier();
      // The k loop stays a loop: unrolled with 8×8 register tiles it is over
      // a thousand FMAs that NVIDIA's compiler takes tens of seconds on.
      [[dont_unroll]] for (uint kk = 0u; kk < BK; ++kk) {
        float a_reg[RM];
        float b_reg[RN];
        [[unroll]] for (uint i = 0u; i < RM; ++i) a_reg[i] = a_tile[kk * BM + ty + i * TY];
        [[unroll]] for (uint j = 0u; j < RN; ++j) b_reg[j] = b_tile[kk * BN + tx + j * TX];
        [[unroll]] for (uint i = 0u; i < RM; ++i) {
          [[unroll]] for (uint j = 0u; j < RN; ++j) acc[i][j] = fma(a_reg[i], b_reg[j], acc[i][j]);
        }
      }
      barrier();
    }

    [[unroll]] for (uint i = 0u; i < RM; ++i) {
      const uint r = row0 + ty + i * TY;
      if (r >= M) continue;
      [[unroll]] for (uint j = 0u; j < RN; ++j) {
        const uint c = col0 + tx + j * TX;
        if (c >= N) continue;
        float v = acc[i][j];
        if (has_bias) v += float(bias[c]);
        o[o_base + r * N + c] = ELEM(v);
      }
    }
  }
}
