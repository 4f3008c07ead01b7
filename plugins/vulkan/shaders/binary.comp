#version 450
// add, sub, mul, div, pow, max, min and prelu with numpy broadcasting: the
// host merges dims and hands over the output dims plus each operand's
// strides (0 along broadcast dims).
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer InA { ELEM a[]; };
layout(std430, binding = 1) readonly buffer InB { ELEM b[]; };
layout(std430, binding = 2) writeonly buffer Out { ELEM o[]; };

// Mirrors BinaryPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint op;  // 0 add, 1 sub, 2 mul, 3 div, 4 pow, 5 max, 6 min, 7 prelu
  uint rank;
  uint count;
  uint pad;
  uint dims[MAX_RANK];
  uint a_strides[MAX_RANK];
  uint b_strides[MAX_RANK];
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..2.
SHAPE_CONSTANT(8, S_OP);
SHAPE_CONSTANT(9, S_RANK);
SHAPE_CONSTANT(10, S_COUNT);

// x^y as C's pow: GLSL's pow is undefined for x < 0 and x = 0, which
// integer exponents of negative bases (and 0^y) need.
float pow_c(float x, float y) {
  if (y == 0.0) return 1.0;
  if (x == 0.0) return y > 0.0 ? 0.0 : 1.0 / 0.0;
  if (x > 0.0) return pow(x, y);
  if (floor(y) != y) return 0.0 / 0.0;  // NaN: no real root
  const float magnitude = pow(-x, y);
  return mod(y, 2.0) == 1.0 ? -magnitude : magnitude;
}

void main() {
  const uint OP = SHAPE(S_OP, pc.op);
  const uint RANK = SHAPE(S_RANK, pc.rank);
  const uint COUNT = SHAPE(S_COUNT, pc.count);
  for (uint i = gl_GlobalInvocationID.x; i < COUNT; i += GRID_STRIDE_X) {
    uint rest = i;
    uint ai = 0u;
    uint bi = 0u;
    for (int d = int(RANK) - 1; d >= 0; --d) {
      const uint index = rest % pc.dims[d];
      rest /= pc.dims[d];
      ai += index * pc.a_strides[d];
      bi += index * pc.b_strides[d];
    }
    const float x = float(a[ai]);
    const float y = float(b[bi]);
    float r;
    if (OP == 0u) {
      r = x + y;
    } else if (OP == 1u) {
      r = x - y;
    } else if (OP == 2u) {
      r = x * y;
    } else if (OP == 3u) {
      r = x / y;
    } else if (OP == 4u) {
      r = pow_c(x, y);
    } else if (OP == 5u) {
      r = isnan(x) || x > y ? x : y;  // NaN propagates as in numpy's maximum
    } else if (OP == 6u) {
      r = isnan(x) || x < y ? x : y;
    } else {
      r = x < 0.0 ? y * x : x;
    }
    o[i] = ELEM(r);
  }
}
