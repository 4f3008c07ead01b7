#version 450
// Elementwise functions of one float tensor (contiguous): scale, relu,
// gelu (exact erf form) and silu, then the math functions of imported
// models in rtscope::math::Unary order (op 4 + that index): exp … clip.
// Formulas follow rtscope/op_math.hpp; where a GLSL built-in would lose
// relative precision near 0 (cancellation) a short series takes over.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) writeonly buffer Out { ELEM o[]; };

// Mirrors UnaryPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint op;       // 0 scale, 1 relu, 2 gelu, 3 silu, 4 + rtscope::math::Unary
  uint count;
  float factor;  // scale's factor; the first parameter of math ops (alpha, bias, min)
  float param;   // their second one (beta, gamma, lambd, max)
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

// erf: its Maclaurin series near 0 (where 1 - erfc cancels), erfc beyond.
float erf_approx(float v) {
  if (abs(v) < 0.5) {
    const float v2 = v * v;
    return 1.1283791670955126 * v *
           (1.0 + v2 * (-1.0 / 3.0 +
                        v2 * (0.1 + v2 * (-1.0 / 42.0 + v2 * (1.0 / 216.0 - v2 / 1320.0)))));
  }
  return 1.0 - erfc_approx(v);
}

// tanh without overflow for large |v| and without cancellation near 0.
float tanh_stable(float v) {
  const float z = abs(v);
  if (z < 0.01) return v - v * v * v / 3.0;
  const float t = exp(-2.0 * z);
  return sign(v) * (1.0 - t) / (1.0 + t);
}

// log(1 + exp(v)) without overflow, and without rounding 1 + tiny to 1.
float softplus(float v) {
  if (v > 20.0) return v;
  const float e = exp(v);
  return e < 1e-4 ? e - 0.5 * e * e : log(1.0 + e);
}

float math_unary(uint op, float v, float a, float b) {
  switch (op) {
    case 0u: return exp(v);
    case 1u: return log(v);
    case 2u: return sqrt(v);
    case 3u: return -v;
    case 4u: return abs(v);
    case 5u: return tanh_stable(v);
    case 6u: return 1.0 / (1.0 + exp(-v));
    case 7u: return erf_approx(v);
    case 8u: return 1.0 / v;
    case 9u: return floor(v);
    case 10u: return ceil(v);
    case 11u: return roundEven(v);
    case 12u: return sin(v);
    case 13u: return cos(v);
    case 14u: return tan(v);
    case 15u: return atan(v / sqrt((1.0 - v) * (1.0 + v)));  // asin: the built-in is coarse
    case 16u: return acos(v);
    case 17u: return atan(v);
    case 18u: return abs(v) < 0.01 ? v + v * v * v / 6.0 : 0.5 * (exp(v) - exp(-v));
    case 19u: return 0.5 * (exp(v) + exp(-v));
    case 20u:  // asinh, odd, through |v| so that log does not cancel
      return abs(v) < 0.01 ? v - v * v * v / 6.0 : sign(v) * log(abs(v) + sqrt(v * v + 1.0));
    case 21u: return log(v + sqrt(v * v - 1.0));
    case 22u: return abs(v) < 0.01 ? v + v * v * v / 3.0 : 0.5 * log((1.0 + v) / (1.0 - v));
    case 23u: return softplus(v);
    case 24u: return v / (1.0 + abs(v));
    case 25u: return sign(v);
    case 26u: return v * clamp(v / 6.0 + 0.5, 0.0, 1.0);
    case 27u: return v * tanh_stable(softplus(v));
    case 28u: return v < 0.0 ? a * v : v;
    case 29u: return v < 0.0 ? a * (exp(v) - 1.0) : v;
    case 30u: return max(0.0, v) + min(0.0, a * (exp(v / a) - 1.0));
    case 31u: return v <= 0.0 ? b * (a * exp(v) - a) : b * v;
    case 32u: return clamp(a * v + b, 0.0, 1.0);
    case 33u: return v > a ? v : 0.0;
    case 34u: return v < -b ? v + a : (v > b ? v - a : 0.0);
    default: return v < a ? a : (v > b ? b : v);  // clip (NaN passes through)
  }
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
    } else if (OP == 3u) {
      r = v / (1.0 + exp(-v));
    } else {
      r = math_unary(OP - 4u, v, pc.factor, pc.param);
    }
    o[i] = ELEM(r);
  }
}
