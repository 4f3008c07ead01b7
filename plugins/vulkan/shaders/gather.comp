#version 450
// gather along one axis: data viewed as [outer, length, inner] (inner in
// RAW elements), out[o, k, c] = data[o, indices[k], c]. Indices are i32 or
// i64 (id_words 1 or 2 uint words each); negative ones count from the end.
// An index outside the axis (an error on cpu) is clamped here, so that no
// read leaves the tensor.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Data { RAW data[]; };
layout(std430, binding = 1) readonly buffer Indices { uint id_words[]; };
layout(std430, binding = 2) writeonly buffer Out { RAW o[]; };

// Mirrors GatherPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint count;    // output RAW elements
  uint inner;    // RAW elements per gathered row
  uint indices;  // index count
  uint axis_len; // the gathered axis length
  uint id_words;
} pc;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    const uint c = i % pc.inner;
    const uint row = i / pc.inner;
    const uint k = row % pc.indices;
    const uint outer = row / pc.indices;
    int index = int(id_words[k * pc.id_words]);
    if (pc.id_words == 2u && int(id_words[k * 2u + 1u]) < 0 && index >= 0) index = -1 - int(pc.axis_len);
    if (index < 0) index += int(pc.axis_len);
    const uint at = uint(clamp(index, 0, int(pc.axis_len) - 1));
    o[i] = data[(outer * pc.axis_len + at) * pc.inner + c];
  }
}
