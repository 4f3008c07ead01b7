#version 450
// argmax along one axis of a tensor viewed as [outer, axis_len, inner]; one
// workgroup per lane. The first index wins on ties, as in the reference.
// Results are i64, written as two uint words.
// A contiguous axis (inner 1) whose length is a multiple of the elements
// in 16 bytes is read 16 bytes per load, IN_FLIGHT loads in flight per
// invocation: a decode step's argmax over a 32000-token vocabulary is one
// workgroup reading 64 KB, where one element per load leaves it waiting
// on memory 125 times per invocation, and four loads at a time 4 times
// (256 invocations).
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "vec16.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 0) readonly buffer InVec { uvec4 xv[]; };
layout(std430, binding = 1) writeonly buffer Out { uint o[]; };

// Mirrors ArgmaxPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint lanes;
  uint axis_len;
  uint inner;
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..2.
SHAPE_CONSTANT(8, S_LANES);
SHAPE_CONSTANT(9, S_AXIS_LEN);
SHAPE_CONSTANT(10, S_INNER);

shared float best_values[WG];
shared uint best_indices[WG];

// True when (value, index) beats (best, best_index): larger, or equal with
// a smaller index.
bool better(float value, uint index, float best, uint best_index) {
  return value > best || (value == best && index < best_index);
}

const uint IN_FLIGHT = 16u;  // 16-byte loads per invocation before the first use


// Element e of a 16-byte vector.
float element(uvec4 q, uint e) {
#ifdef ELEM_F16
  return unpackHalf2x16(q[e / 2u])[e % 2u];
#else
  return uintBitsToFloat(q[e]);
#endif
}

// An invocation sees its indices in increasing order, so a strictly
// larger value is what replaces its best (the first index wins).
void keep(float value, uint index, inout float best, inout uint best_index) {
  if (best_index == 0xffffffffu || value > best) {
    best = value;
    best_index = index;
  }
}

// The elements of vector q, indices first..first + VEC - 1, in order.
void consider(uvec4 q, uint first, inout float best, inout uint best_index) {
  [[unroll]] for (uint e = 0u; e < VEC; ++e) keep(element(q, e), first + e, best, best_index);
}

void main() {
  const uint LANES = SHAPE(S_LANES, pc.lanes);
  const uint AXIS_LEN = SHAPE(S_AXIS_LEN, pc.axis_len);
  const uint INNER = SHAPE(S_INNER, pc.inner);
  const uint lid = gl_LocalInvocationID.x;
  for (uint lane = gl_WorkGroupID.x; lane < LANES; lane += gl_NumWorkGroups.x) {
    const uint base = (lane / INNER) * AXIS_LEN * INNER + lane % INNER;
    float best = -1.0 / 0.0;
    uint best_index = 0xffffffffu;
    if (INNER == 1u && AXIS_LEN % VEC == 0u) {
      const uint vecs = AXIS_LEN / VEC;
      const uint first_vec = base / VEC;
      // Every invocation issues its loads of a round together, the last
      // round's too (guarded), then considers them in index order.
      for (uint v = lid; v < vecs; v += IN_FLIGHT * WG) {
        uvec4 q[IN_FLIGHT];
        [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
          if (v + j * WG < vecs) q[j] = xv[first_vec + v + j * WG];
        }
        [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
          if (v + j * WG < vecs) consider(q[j], (v + j * WG) * VEC, best, best_index);
        }
      }
    } else {
      for (uint i = lid; i < AXIS_LEN; i += WG) {
        keep(float(x[base + i * INNER]), i, best, best_index);
      }
    }
    best_values[lid] = best;
    best_indices[lid] = best_index;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) {
        const float other = best_values[lid + s];
        const uint other_index = best_indices[lid + s];
        if (other_index != 0xffffffffu &&
            (best_indices[lid] == 0xffffffffu ||
             better(other, other_index, best_values[lid], best_indices[lid]))) {
          best_values[lid] = other;
          best_indices[lid] = other_index;
        }
      }
      barrier();
    }
    if (lid == 0u) {
      o[lane * 2u] = best_indices[0];
      o[lane * 2u + 1u] = 0u;
    }
    barrier();
  }
}
