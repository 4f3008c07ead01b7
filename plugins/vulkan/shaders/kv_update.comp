#version 450
// kv_cache_update: writes new [B, H, S, Dh] into cache [B, H, T, Dh] at
// positions pos..pos+S−1, where pos is one position for every batch row or
// one per batch row (per_pos elements of new each). A batch row whose
// position leaves no room for S steps is skipped, never written outside
// the cache (the host rejects it before submitting when it can read pos).
// The output buffer already holds the cache (it is
// the cache, in place, or the host copied it there first). Sizes are in
// RAW elements.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer Cache { RAW cache[]; };
layout(std430, binding = 1) readonly buffer New { RAW fresh[]; };
layout(std430, binding = 2) readonly buffer Pos { uint pos_words[]; };

// Mirrors KvUpdatePush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint count;  // B·H·S·row
  uint seq;
  uint cache_len;
  uint row;  // Dh in RAW elements
  uint per_pos;  // elements of new per position: 0 (pos [1]) or H·S·row (pos [B])
} pc;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    const int pos = POSITION(pos_words, i, pc.per_pos);
    if (pos < 0 || pos > int(pc.cache_len) - int(pc.seq)) continue;
    const uint d = i % pc.row;
    const uint s = (i / pc.row) % pc.seq;
    const uint bh = i / (pc.row * pc.seq);
    cache[(bh * pc.cache_len + uint(pos) + s) * pc.row + d] = fresh[i];
  }
}
