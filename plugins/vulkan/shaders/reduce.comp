#version 450
// reduce_sum, _mean, _max, _min, _prod and _log_sum_exp over any set of
// axes. The host splits the merged dims into kept dims (one output element
// per index: a group) and reduced dims (a group's members), each with the
// input's strides; one workgroup per group (grid-stride over groups) reads
// the members with its invocations and combines them in shared memory.
#include "common.glsl"
#include "reduce.glsl"

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) writeonly buffer Out { ELEM o[]; };

#define REDUCE_RANK 4

// Mirrors ReducePush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint op;  // 0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 log_sum_exp
  uint groups;
  uint members;
  uint kept_rank;
  uint reduced_rank;
  uint pad0;
  uint pad1;
  uint pad2;
  uint kept_dims[REDUCE_RANK];
  uint kept_strides[REDUCE_RANK];
  uint reduced_dims[REDUCE_RANK];
  uint reduced_strides[REDUCE_RANK];
} pc;

float workgroup_prod(float v) {
  const uint lid = gl_LocalInvocationID.x;
  reduce_scratch[lid] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) reduce_scratch[lid] *= reduce_scratch[lid + s];
    barrier();
  }
  const float r = reduce_scratch[0];
  barrier();
  return r;
}

uint member_offset(uint m) {
  uint offset = 0u;
  for (int d = int(pc.reduced_rank) - 1; d >= 0; --d) {
    offset += (m % pc.reduced_dims[d]) * pc.reduced_strides[d];
    m /= pc.reduced_dims[d];
  }
  return offset;
}

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const float inf = 1.0 / 0.0;
  for (uint g = gl_WorkGroupID.x; g < pc.groups; g += gl_NumWorkGroups.x) {
    uint base = 0u;
    uint rest = g;
    for (int d = int(pc.kept_rank) - 1; d >= 0; --d) {
      base += (rest % pc.kept_dims[d]) * pc.kept_strides[d];
      rest /= pc.kept_dims[d];
    }
    float result;
    if (pc.op == 2u || pc.op == 5u) {
      float local = -inf;
      for (uint m = lid; m < pc.members; m += WG) {
        const float v = float(x[base + member_offset(m)]);
        local = isnan(v) || v > local ? v : local;
      }
      result = workgroup_max(local);
      if (pc.op == 5u && !isinf(result)) {
        float sum = 0.0;
        for (uint m = lid; m < pc.members; m += WG) {
          sum += exp(float(x[base + member_offset(m)]) - result);
        }
        result += log(workgroup_sum(sum));
      }
    } else if (pc.op == 3u) {
      float local = inf;
      for (uint m = lid; m < pc.members; m += WG) {
        const float v = float(x[base + member_offset(m)]);
        local = isnan(v) || v < local ? v : local;
      }
      result = -workgroup_max(-local);
    } else if (pc.op == 4u) {
      float local = 1.0;
      for (uint m = lid; m < pc.members; m += WG) local *= float(x[base + member_offset(m)]);
      result = workgroup_prod(local);
    } else {
      float local = 0.0;
      for (uint m = lid; m < pc.members; m += WG) local += float(x[base + member_offset(m)]);
      result = workgroup_sum(local);
      if (pc.op == 1u) result /= float(pc.members);
    }
    if (lid == 0u) o[g] = ELEM(result);
  }
}
