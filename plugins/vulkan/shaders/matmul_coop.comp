#version 450
// f16 matmul on tensor cores through VK_NV_cooperative_matrix: C[batch] =
// A[batch] · B[batch], f16 inputs, f32 accumulation, f16 output. A workgroup
// of 8 subgroups (4 across, 2 down) computes a 128×256 tile of C; each
// subgroup owns a 64×64 block as 4×4 16×16 accumulators. Each K step the
// workgroup copies a 128×32 slab of A and a 32×256 slab of B into shared
// memory (rows padded so subgroups reading columns of 16 rows do not hit
// one bank), while the next slabs are already being fetched into registers.
//
// The encoder uses it only when the shapes fit the tiles exactly (M % 128,
// N % 256, K % 32 all 0), B is [K, N] and there is no bias; everything else
// runs on the generic tiled shader. glslang declares the VulkanMemoryModel
// capability for cooperative matrices, so the device enables that feature
// too (coop_matrix.cpp).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

const uint LM = 16;  // cooperative matrix shape
const uint LN = 16;
const uint LK = 16;
const uint TILE_M = 128;
const uint TILE_N = 256;
const uint TILE_K = 32;
const uint SUBGROUPS_X = 4;
const uint SUBGROUPS_Y = 2;
const uint SUBGROUP_SIZE = 32;  // checked on the host (DeviceCaps)
const uint THREADS = SUBGROUP_SIZE * SUBGROUPS_X * SUBGROUPS_Y;
const uint C_ROWS = TILE_M / SUBGROUPS_Y / LM;  // accumulators per subgroup, down
const uint C_COLS = TILE_N / SUBGROUPS_X / LN;  // and across

layout(local_size_x = 256, local_size_y = 1, local_size_z = 1) in;

// 8 halves per uvec4: global and shared traffic moves 16 bytes at a time.
const uint HALVES_PER_VEC = 8;
const uint PAD = HALVES_PER_VEC;
const uint A_STRIDE = TILE_K + PAD;  // halves per shared row of A
const uint B_STRIDE = TILE_N + PAD;
shared uvec4 a_tile[TILE_M * A_STRIDE / HALVES_PER_VEC];
shared uvec4 b_tile[TILE_K * B_STRIDE / HALVES_PER_VEC];

layout(std430, binding = 0) readonly buffer InA { uvec4 a[]; };
layout(std430, binding = 1) readonly buffer InB { uvec4 b[]; };
layout(std430, binding = 2) readonly buffer InBias { float16_t unused_bias[]; };
layout(std430, binding = 3) writeonly buffer Out { float16_t o[]; };

// Mirrors MatmulPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint m;
  uint n;
  uint k;
  uint flags;
  uint batches;
  uint batch_dims[3];
  uint a_batch_strides[3];
  uint b_batch_strides[3];
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..4.
SHAPE_CONSTANT(8, S_M);
SHAPE_CONSTANT(9, S_N);
SHAPE_CONSTANT(10, S_K);
SHAPE_CONSTANT(11, S_FLAGS);
SHAPE_CONSTANT(12, S_BATCHES);

// Vectors of one slab each thread carries from global to shared memory.
const uint A_VECS_PER_ROW = TILE_K / HALVES_PER_VEC;
const uint A_ROWS_PER_PASS = THREADS / A_VECS_PER_ROW;
const uint A_PASSES = TILE_M / A_ROWS_PER_PASS;
const uint B_VECS_PER_ROW = TILE_N / HALVES_PER_VEC;
const uint B_ROWS_PER_PASS = THREADS / B_VECS_PER_ROW;
const uint B_PASSES = TILE_K / B_ROWS_PER_PASS;

void main() {
  const uint M = SHAPE(S_M, pc.m);
  const uint N = SHAPE(S_N, pc.n);
  const uint K = SHAPE(S_K, pc.k);
  const uint FLAGS = SHAPE(S_FLAGS, pc.flags);
  const uint BATCHES = SHAPE(S_BATCHES, pc.batches);
  const uint tid = gl_LocalInvocationID.x;
  const uint sub_x = gl_SubgroupID % SUBGROUPS_X;
  const uint sub_y = gl_SubgroupID / SUBGROUPS_X;
  const uint row0 = gl_WorkGroupID.y * TILE_M;
  const uint col0 = gl_WorkGroupID.x * TILE_N;
  const uint a_col = (tid % A_VECS_PER_ROW) * HALVES_PER_VEC;
  const uint a_row = tid / A_VECS_PER_ROW;
  const uint b_col = (tid % B_VECS_PER_ROW) * HALVES_PER_VEC;
  const uint b_row = tid / B_VECS_PER_ROW;

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

    fcoopmatNV<32, gl_ScopeSubgroup, LM, LN> acc[C_ROWS][C_COLS];
    [[unroll]] for (uint i = 0; i < C_ROWS; ++i) {
      [[unroll]] for (uint j = 0; j < C_COLS; ++j) {
        acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, LM, LN>(0.0);
      }
    }

    uvec4 a_next[A_PASSES];
    uvec4 b_next[B_PASSES];
    [[unroll]] for (uint p = 0; p < A_PASSES; ++p) {
      const uint r = row0 + a_row + p * A_ROWS_PER_PASS;
      a_next[p] = a[(a_base + r * K + a_col) / HALVES_PER_VEC];
    }
    [[unroll]] for (uint p = 0; p < B_PASSES; ++p) {
      const uint kk = b_row + p * B_ROWS_PER_PASS;
      b_next[p] = b[(b_base + kk * N + col0 + b_col) / HALVES_PER_VEC];
    }

    for (uint k0 = 0; k0 < K; k0 += TILE_K) {
      barrier();  // every subgroup is done reading the previous slabs
      [[unroll]] for (uint p = 0; p < A_PASSES; ++p) {
        a_tile[((a_row + p * A_ROWS_PER_PASS) * A_STRIDE + a_col) / HALVES_PER_VEC] = a_next[p];
      }
      [[unroll]] for (uint p = 0; p < B_PASSES; ++p) {
        b_tile[((b_row + p * B_ROWS_PER_PASS) * B_STRIDE + b_col) / HALVES_PER_VEC] = b_next[p];
      }
      barrier();

      // Fetch the next slabs while this one is multiplied.
      const uint k1 = k0 + TILE_K;
      if (k1 < K) {
        [[unroll]] for (uint p = 0; p < A_PASSES; ++p) {
          const uint r = row0 + a_row + p * A_ROWS_PER_PASS;
          a_next[p] = a[(a_base + r * K + k1 + a_col) / HALVES_PER_VEC];
        }
        [[unroll]] for (uint p = 0; p < B_PASSES; ++p) {
          const uint kk = k1 + b_row + p * B_ROWS_PER_PASS;
          b_next[p] = b[(b_base + kk * N + col0 + b_col) / HALVES_PER_VEC];
        }
      }

      [[unroll]] for (uint ks = 0; ks < TILE_K; ks += LK) {
        fcoopmatNV<16, gl_ScopeSubgroup, LM, LK> a_frag[C_ROWS];
        [[unroll]] for (uint i = 0; i < C_ROWS; ++i) {
          const uint r = (sub_y * C_ROWS + i) * LM;
          coopMatLoadNV(a_frag[i], a_tile, (r * A_STRIDE + ks) / HALVES_PER_VEC,
                        A_STRIDE / HALVES_PER_VEC, false);
        }
        [[unroll]] for (uint j = 0; j < C_COLS; ++j) {
          const uint c = (sub_x * C_COLS + j) * LN;
          fcoopmatNV<16, gl_ScopeSubgroup, LK, LN> b_frag;
          coopMatLoadNV(b_frag, b_tile, (ks * B_STRIDE + c) / HALVES_PER_VEC,
                        B_STRIDE / HALVES_PER_VEC, false);
          [[unroll]] for (uint i = 0; i < C_ROWS; ++i) {
            acc[i][j] = coopMatMulAddNV(a_frag[i], b_frag, acc[i][j]);
          }
        }
      }
    }

    [[unroll]] for (uint i = 0; i < C_ROWS; ++i) {
      const uint r = row0 + (sub_y * C_ROWS + i) * LM;
      [[unroll]] for (uint j = 0; j < C_COLS; ++j) {
        const uint c = col0 + (sub_x * C_COLS + j) * LN;
        const fcoopmatNV<16, gl_ScopeSubgroup, LM, LN> result =
            fcoopmatNV<16, gl_ScopeSubgroup, LM, LN>(acc[i][j]);
        coopMatStoreNV(result, o, o_base + r * N + c, N, false);
      }
    }
  }
}
