#version 450
// scale, relu, gelu (exact erf form) and silu on contiguous tensors.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) writeonly buffer Out { ELEM o[]; };

// Mirrors UnaryPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint op;  // 0 scale, 1 relu, 2 gelu, 3 silu
  uint count;
  float factor;
} pc;

// Shape constants (SHAPE in common.glsl): push words 0..1.
SHAPE_CONSTANT(8, S_OP);
SHAPE_CONSTANT(9, S_COUNT);

// erfc with fractional error below 1.2e-7 everywhere (Numerical Recipes'
// Chebyshev fit). GLSL has no erf; gelu is written through erfc so that it
// keeps its relative precision for large negative inputs.
float erfc_approx(float v) {
  const float z = abs(v);
  const float t = 1.0 / (1.0 + 0.5 * z);
  const float poly =
      -1.26551223 +
      t * (1.00002368 +
           t * (0.37409196 +
                t * (0.09678418 +
                     t * (-0.18628806 +
                          t * (0.27886807 +
                               t * (-1.13520398 +
                                    t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const float r = t * exp(-z * z + poly);
  return v >= 0.0 ? r : 2.0 - r;
}

void main() {
  const uint OP = SHAPE(S_OP, pc.op);
  const uint COUNT = SHAPE(S_COUNT, pc.count);
  for (uint i = gl_GlobalInvocationID.x; i < COUNT; i += GRID_STRIDE_X) {
    const float v = float(x[i]);
    float r;
    if (OP == 0u) {
      r = v * pc.factor;
    } else if (OP == 1u) {
      r = max(v, 0.0);
    } else if (OP == 2u) {
      // 0.5·v·(1 + erf(v/√2)) = 0.5·v·erfc(−v/√2)
      r = 0.5 * v * erfc_approx(-v * 0.70710678118654752);
    } else {
      r = v / (1.0 + exp(-v));
    }
    o[i] = ELEM(r);
  }
}
