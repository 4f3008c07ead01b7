#version 450
// rmsnorm and layernorm over the last dim; one workgroup per row
// (grid-stride over rows). layernorm subtracts the mean before squaring, as
// the reference does, instead of using E[x²] − E[x]².
#include "common.glsl"
#include "reduce.glsl"

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) readonly buffer Gamma { ELEM gamma[]; };
layout(std430, binding = 2) readonly buffer Beta { ELEM beta[]; };  // layernorm only
layout(std430, binding = 3) writeonly buffer Out { ELEM o[]; };

// Mirrors NormPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint mode;  // 0 rmsnorm, 1 layernorm
  uint rows;
  uint width;
  float eps;
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..2.
SHAPE_CONSTANT(8, S_MODE);
SHAPE_CONSTANT(9, S_ROWS);
SHAPE_CONSTANT(10, S_WIDTH);

void main() {
  const uint MODE = SHAPE(S_MODE, pc.mode);
  const uint ROWS = SHAPE(S_ROWS, pc.rows);
  const uint WIDTH = SHAPE(S_WIDTH, pc.width);
  const uint lid = gl_LocalInvocationID.x;
  const bool layer = MODE == 1u;
  for (uint row = gl_WorkGroupID.x; row < ROWS; row += gl_NumWorkGroups.x) {
    const uint base = row * WIDTH;
    float mean = 0.0;
    if (layer) {
      float local = 0.0;
      for (uint i = lid; i < WIDTH; i += WG) local += float(x[base + i]);
      mean = workgroup_sum(local) / float(WIDTH);
    }
    float squares = 0.0;
    for (uint i = lid; i < WIDTH; i += WG) {
      const float centered = float(x[base + i]) - mean;
      squares += centered * centered;
    }
    const float inv = inversesqrt(workgroup_sum(squares) / float(WIDTH) + pc.eps);
    for (uint i = lid; i < WIDTH; i += WG) {
      float v = (float(x[base + i]) - mean) * inv * float(gamma[i]);
      if (layer) v += float(beta[i]);
      o[base + i] = ELEM(v);
    }
  }
}
