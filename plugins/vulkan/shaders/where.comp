#version 450
// where(x, y, cond) with numpy broadcasting of all three: out = cond ? x : y,
// any element type (RAW). The host merges dims and hands over the output
// dims plus each operand's strides (0 along broadcast dims); cond is bool,
// one byte per element.
#include "common.glsl"
#extension GL_EXT_shader_8bit_storage : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer InX { RAW x[]; };
layout(std430, binding = 1) readonly buffer InY { RAW y[]; };
layout(std430, binding = 2) readonly buffer Cond { uint8_t cond[]; };
layout(std430, binding = 3) writeonly buffer Out { RAW o[]; };

#define WHERE_RANK 6

// Mirrors WherePush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint rank;
  uint count;
  uint pad0;
  uint pad1;
  uint dims[WHERE_RANK];
  uint x_strides[WHERE_RANK];
  uint y_strides[WHERE_RANK];
  uint cond_strides[WHERE_RANK];
} pc;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    uint rest = i;
    uint xi = 0u;
    uint yi = 0u;
    uint ci = 0u;
    for (int d = int(pc.rank) - 1; d >= 0; --d) {
      const uint index = rest % pc.dims[d];
      rest /= pc.dims[d];
      xi += index * pc.x_strides[d];
      yi += index * pc.y_strides[d];
      ci += index * pc.cond_strides[d];
    }
    // Branches, not a select: selecting 16- or 8-bit values would need the
    // Int16 / Int8 arithmetic capabilities; moving them needs only storage.
    if (uint(cond[ci]) != 0u) {
      o[i] = x[xi];
    } else {
      o[i] = y[yi];
    }
  }
}
