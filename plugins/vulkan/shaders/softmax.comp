#version 450
// softmax along one axis. The tensor is viewed as [outer, axis_len, inner]; a
// lane is one softmax of `axis_len` values `inner` apart. One workgroup per
// lane (grid-stride over lanes). Built with LOG_SOFTMAX it writes
// log_softmax, x - max - log(Σ exp(x - max)), which keeps its precision
// where softmax underflows.
#include "common.glsl"
#include "reduce.glsl"

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) writeonly buffer Out { ELEM o[]; };

// Mirrors SoftmaxPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint lanes;
  uint axis_len;
  uint inner;
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..2.
SHAPE_CONSTANT(8, S_LANES);
SHAPE_CONSTANT(9, S_AXIS_LEN);
SHAPE_CONSTANT(10, S_INNER);

void main() {
  const uint LANES = SHAPE(S_LANES, pc.lanes);
  const uint AXIS_LEN = SHAPE(S_AXIS_LEN, pc.axis_len);
  const uint INNER = SHAPE(S_INNER, pc.inner);
  const uint lid = gl_LocalInvocationID.x;
  for (uint lane = gl_WorkGroupID.x; lane < LANES; lane += gl_NumWorkGroups.x) {
    const uint base = (lane / INNER) * AXIS_LEN * INNER + lane % INNER;
    float local_max = -1.0 / 0.0;
    for (uint i = lid; i < AXIS_LEN; i += WG) local_max = max(local_max, float(x[base + i * INNER]));
    const float row_max = workgroup_max(local_max);
    float local_sum = 0.0;
    for (uint i = lid; i < AXIS_LEN; i += WG) local_sum += exp(float(x[base + i * INNER]) - row_max);
#ifdef LOG_SOFTMAX
    const float shift = row_max + log(workgroup_sum(local_sum));
    for (uint i = lid; i < AXIS_LEN; i += WG) {
      const uint at = base + i * INNER;
      o[at] = ELEM(float(x[at]) - shift);
    }
#else
    const float inv_sum = 1.0 / workgroup_sum(local_sum);
    for (uint i = lid; i < AXIS_LEN; i += WG) {
      const uint at = base + i * INNER;
      o[at] = ELEM(exp(float(x[at]) - row_max) * inv_sum);
    }
#endif
  }
}
