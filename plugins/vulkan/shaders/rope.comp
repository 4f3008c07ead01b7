#version 450
// Rotate-half RoPE on x [B, S, H, Dh]: for i < Dh/2 and θ = (pos+s)·base^(−2i/Dh),
// out[i] = x[i]·cosθ − x[i+Dh/2]·sinθ and out[i+Dh/2] = x[i+Dh/2]·cosθ + x[i]·sinθ.
// One invocation per (row, i) pair; pos is read from its i64 buffer: one
// position for every batch row, or one per batch row (per_pos pairs each).
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) readonly buffer Pos { uint pos_words[]; };
layout(std430, binding = 2) writeonly buffer Out { ELEM o[]; };

// Mirrors RopePush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint pairs;  // B·S·H·Dh/2
  uint seq;
  uint heads;
  uint head_dim;
  float log2_base;
  uint per_pos;  // pairs per position: 0 (pos [1]) or S·H·Dh/2 (pos [B])
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..3.
SHAPE_CONSTANT(8, S_PAIRS);
SHAPE_CONSTANT(9, S_SEQ);
SHAPE_CONSTANT(10, S_HEADS);
SHAPE_CONSTANT(11, S_HEAD_DIM);

void main() {
  const uint PAIRS = SHAPE(S_PAIRS, pc.pairs);
  const uint SEQ = SHAPE(S_SEQ, pc.seq);
  const uint HEADS = SHAPE(S_HEADS, pc.heads);
  const uint HEAD_DIM = SHAPE(S_HEAD_DIM, pc.head_dim);
  const uint half_dim = HEAD_DIM / 2u;
  for (uint p = gl_GlobalInvocationID.x; p < PAIRS; p += GRID_STRIDE_X) {
    const int pos = POSITION(pos_words, p, pc.per_pos);
    const uint i = p % half_dim;
    const uint row = p / half_dim;  // over B·S·H
    const uint s = (row / HEADS) % SEQ;
    const float inv_freq = exp2(-2.0 * float(i) / float(HEAD_DIM) * pc.log2_base);
    const float theta = float(pos + int(s)) * inv_freq;
    const float c = cos(theta);
    const float sn = sin(theta);
    const uint at = row * HEAD_DIM + i;
    const float first = float(x[at]);
    const float second = float(x[at + half_dim]);
    o[at] = ELEM(first * c - second * sn);
    o[at + half_dim] = ELEM(second * c + first * sn);
  }
}
