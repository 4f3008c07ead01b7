#version 450
// Generic strided copy for transpose, slice and concat: out element
// out_offset + Σ idx·out_strides = in element in_offset + Σ idx·in_strides
// over the index space `dims` (merged by the host). Offsets, strides and
// dims are in RAW elements.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer In { RAW x[]; };
layout(std430, binding = 1) writeonly buffer Out { RAW o[]; };

// Mirrors CopyPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint rank;
  uint count;
  uint in_offset;
  uint out_offset;
  uint dims[MAX_RANK];
  uint in_strides[MAX_RANK];
  uint out_strides[MAX_RANK];
} pc;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    uint rest = i;
    uint src = pc.in_offset;
    uint dst = pc.out_offset;
    for (int d = int(pc.rank) - 1; d >= 0; --d) {
      const uint index = rest % pc.dims[d];
      rest /= pc.dims[d];
      src += index * pc.in_strides[d];
      dst += index * pc.out_strides[d];
    }
    o[dst] = x[src];
  }
}
