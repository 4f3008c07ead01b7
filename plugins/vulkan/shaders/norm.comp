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

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const bool layer = pc.mode == 1u;
  for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
    const uint base = row * pc.width;
    float mean = 0.0;
    if (layer) {
      float local = 0.0;
      for (uint i = lid; i < pc.width; i += WG) local += float(x[base + i]);
      mean = workgroup_sum(local) / float(pc.width);
    }
    float squares = 0.0;
    for (uint i = lid; i < pc.width; i += WG) {
      const float centered = float(x[base + i]) - mean;
      squares += centered * centered;
    }
    const float inv = inversesqrt(workgroup_sum(squares) / float(pc.width) + pc.eps);
    for (uint i = lid; i < pc.width; i += WG) {
      float v = (float(x[base + i]) - mean) * inv * float(gamma[i]);
      if (layer) v += float(beta[i]);
      o[base + i] = ELEM(v);
    }
  }
}
