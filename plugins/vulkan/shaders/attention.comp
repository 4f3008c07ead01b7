#version 450
// Causal attention over a KV cache: q [B, H, S, Dh] against k and v
// [B, Hkv, T, Dh] (query head h reads KV head h / (H / Hkv)); query s
// (absolute position pos+s) sees keys j ≤ pos+s.
// One workgroup per (b, h, s) row. Keys are visited in chunks of WG with an
// online softmax (running max and sum, rescaled accumulator), so the cache
// length is not bounded by shared memory; the head dim is (MAX_HEAD_DIM).
// Each invocation scores one key (with 16-byte loads when rows hold whole
// vectors); the value pass splits the chunk's keys over WG / Dh groups.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "vec16.glsl"
#include "reduce.glsl"

const uint MAX_HEAD_DIM = 256;

layout(std430, binding = 0) readonly buffer Q { ELEM q[]; };
layout(std430, binding = 1) readonly buffer K { ELEM k[]; };
// The same cache as 16-byte vectors, for rows that hold whole vectors.
layout(std430, binding = 1) readonly buffer KVectors { uvec4 k4[]; };
layout(std430, binding = 2) readonly buffer V { ELEM v[]; };
layout(std430, binding = 3) readonly buffer Pos { uint pos_words[]; };
layout(std430, binding = 4) writeonly buffer Out { ELEM o[]; };

// Mirrors AttentionPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint rows;  // B·H·S
  uint seq;
  uint cache_len;
  uint head_dim;
  float scale;
  uint flags;  // bit 0: key rows are read as 16-byte vectors (k4)
  uint per_pos;  // rows per position: 0 (pos [1]) or H·S (pos [B], batch row b at pos[b])
  uint group;  // query heads per KV head: H / Hkv
} pc;


// Shape constants (SHAPE in common.glsl): push words 0..3.
SHAPE_CONSTANT(8, S_ROWS);
SHAPE_CONSTANT(9, S_SEQ);
SHAPE_CONSTANT(10, S_CACHE_LEN);
SHAPE_CONSTANT(11, S_HEAD_DIM);

shared float query[MAX_HEAD_DIM];
shared float accumulator[MAX_HEAD_DIM];
shared float weights[WG];
shared float partial[WG];  // the value pass's per-key-group sums

// q·k for the key row starting at element `key`.
float score_of(uint key, uint dh, bool vectors) {
  float dot_qk = 0.0;
  if (vectors) {
    const uint first = key / VEC;
    for (uint i = 0u; i < dh / VEC; ++i) {
      const uvec4 w = k4[first + i];
#ifdef ELEM_F16
      for (uint h = 0u; h < 4u; ++h) {
        const vec2 pair = unpackHalf2x16(w[h]);
        dot_qk = fma(query[i * 8u + h * 2u], pair.x, dot_qk);
        dot_qk = fma(query[i * 8u + h * 2u + 1u], pair.y, dot_qk);
      }
#else
      const vec4 f = uintBitsToFloat(w);
      for (uint h = 0u; h < 4u; ++h) dot_qk = fma(query[i * 4u + h], f[h], dot_qk);
#endif
    }
    return dot_qk;
  }
  for (uint d = 0u; d < dh; ++d) dot_qk = fma(query[d], float(k[key + d]), dot_qk);
  return dot_qk;
}

void main() {
  const uint ROWS = SHAPE(S_ROWS, pc.rows);
  const uint SEQ = SHAPE(S_SEQ, pc.seq);
  const uint CACHE_LEN = SHAPE(S_CACHE_LEN, pc.cache_len);
  const uint HEAD_DIM = SHAPE(S_HEAD_DIM, pc.head_dim);
  const uint lid = gl_LocalInvocationID.x;
  const uint dh = HEAD_DIM;
  for (uint row = gl_WorkGroupID.x; row < ROWS; row += gl_NumWorkGroups.x) {
    const int pos = POSITION(pos_words, row, pc.per_pos);
    const uint bh = row / SEQ;
    const uint s = row % SEQ;
    // Grouped-query: query plane b·H + h reads KV plane b·Hkv + h / group.
    const uint kv_base = (bh / pc.group) * CACHE_LEN * dh;
    // The host rejects pos + S > T before submitting; clamp anyway so a bad
    // position can never read outside the cache.
    const uint visible = uint(clamp(pos + int(s) + 1, 0, int(CACHE_LEN)));

    for (uint d = lid; d < dh; d += WG) {
      query[d] = float(q[row * dh + d]);
      accumulator[d] = 0.0;
    }
    barrier();

    float running_max = -1.0 / 0.0;
    float running_sum = 0.0;
    for (uint chunk = 0u; chunk < visible; chunk += WG) {
      const uint j = chunk + lid;
      float score = -1.0 / 0.0;
      if (j < visible) score = score_of(kv_base + j * dh, dh, (pc.flags & 1u) != 0u) * pc.scale;
      const float new_max = max(running_max, workgroup_max(score));
      const float weight = j < visible ? exp(score - new_max) : 0.0;
      weights[lid] = weight;
      const float correction = exp(running_max - new_max);  // 0 on the first chunk
      running_sum = running_sum * correction + workgroup_sum(weight);
      running_max = new_max;
      // workgroup_sum ended with a barrier: every weight is visible now.
      const uint count = min(WG, visible - chunk);
      if (dh <= WG) {
        // WG / dh groups of dh invocations split the chunk's keys, so that
        // every invocation works; their sums meet in `partial`.
        const uint groups = WG / dh;
        const uint group = lid / dh;
        const uint d = lid % dh;
        float value = 0.0;
        if (group < groups) {
          for (uint jj = group; jj < count; jj += groups) {
            value = fma(weights[jj], float(v[kv_base + (chunk + jj) * dh + d]), value);
          }
        }
        partial[lid] = value;
        barrier();
        if (lid < dh) {
          float total = accumulator[lid] * correction;
          for (uint g = 0u; g < groups; ++g) total += partial[g * dh + lid];
          accumulator[lid] = total;
        }
      } else {
        for (uint d = lid; d < dh; d += WG) {
          float value = accumulator[d] * correction;
          for (uint jj = 0u; jj < count; ++jj) {
            value = fma(weights[jj], float(v[kv_base + (chunk + jj) * dh + d]), value);
          }
          accumulator[d] = value;
        }
      }
      barrier();  // weights and partial are rewritten by the next chunk
    }

    const float inv_sum = running_sum > 0.0 ? 1.0 / running_sum : 0.0;
    for (uint d = lid; d < dh; d += WG) o[row * dh + d] = ELEM(accumulator[d] * inv_sum);
    barrier();  // query and accumulator are reused by the next row
  }
}
