#version 450
// softmax along one axis. The tensor is viewed as [outer, axis_len, inner]; a
// lane is one softmax of `axis_len` values `inner` apart. One workgroup per
// lane (grid-stride over lanes).
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

void main() {
  const uint lid = gl_LocalInvocationID.x;
  for (uint lane = gl_WorkGroupID.x; lane < pc.lanes; lane += gl_NumWorkGroups.x) {
    const uint base = (lane / pc.inner) * pc.axis_len * pc.inner + lane % pc.inner;
    float local_max = -1.0 / 0.0;
    for (uint i = lid; i < pc.axis_len; i += WG) local_max = max(local_max, float(x[base + i * pc.inner]));
    const float row_max = workgroup_max(local_max);
    float local_sum = 0.0;
    for (uint i = lid; i < pc.axis_len; i += WG) local_sum += exp(float(x[base + i * pc.inner]) - row_max);
    const float inv_sum = 1.0 / workgroup_sum(local_sum);
    for (uint i = lid; i < pc.axis_len; i += WG) {
      const uint at = base + i * pc.inner;
      o[at] = ELEM(exp(float(x[at]) - row_max) * inv_sum);
    }
  }
}
