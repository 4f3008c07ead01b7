#version 450
// Element type conversion between f32, f16, i32, i64 and bool, as the cpu
// kernels do it: float to integer truncates (NaN and infinities give 0),
// i64 to i32 keeps the low word, anything to bool tests != 0. Each binding
// is declared at every width it may hold; the push constants say which one
// a dispatch reads and writes.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_8bit_storage : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer In32 { uint in32[]; };
layout(std430, binding = 0) readonly buffer In16 { float16_t in16[]; };
layout(std430, binding = 0) readonly buffer In8 { uint8_t in8[]; };
layout(std430, binding = 1) writeonly buffer Out32 { uint out32[]; };
layout(std430, binding = 1) writeonly buffer Out16 { float16_t out16[]; };
layout(std430, binding = 1) writeonly buffer Out8 { uint8_t out8[]; };

// Type codes (CastPush in shader_interface.hpp).
#define T_F32 0u
#define T_F16 1u
#define T_I32 2u
#define T_I64 3u
#define T_BOOL 4u

// Mirrors CastPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint count;
  uint from;
  uint to;
} pc;

void main() {
  const bool from_float = pc.from == T_F32 || pc.from == T_F16;
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    // The value as a float, and as an integer's two words when it is one.
    float f = 0.0;
    uint low = 0u;
    uint high = 0u;
    if (pc.from == T_F32) {
      f = uintBitsToFloat(in32[i]);
    } else if (pc.from == T_F16) {
      f = float(in16[i]);
    } else if (pc.from == T_I32) {
      low = in32[i];
      high = int(low) < 0 ? 0xffffffffu : 0u;
    } else if (pc.from == T_I64) {
      low = in32[2u * i];
      high = in32[2u * i + 1u];
    } else {
      low = uint(in8[i]) != 0u ? 1u : 0u;
    }
    if (!from_float) {
      // Values that fit an i32 convert exactly to 2^24 in magnitude, rounded
      // beyond as in C++; wider i64 values go through their two words.
      const bool fits_i32 = high == (int(low) < 0 ? 0xffffffffu : 0u);
      f = fits_i32 ? float(int(low)) : float(int(high)) * 4294967296.0 + float(low);
    } else if (pc.to == T_I32 || pc.to == T_I64) {
      const float t = isnan(f) || isinf(f) ? 0.0 : trunc(f);
      if (abs(t) < 2147483648.0) {
        low = uint(int(t));
        high = t < 0.0 ? 0xffffffffu : 0u;
      } else {
        // Beyond 2^31 the value is a multiple of 2^8 (f32 has 24 bits): the
        // high word is the quotient by 2^32 rounded down, exactly.
        const float hf = floor(t / 4294967296.0);
        high = uint(int(hf));
        low = uint(t - hf * 4294967296.0);
      }
    }
    const bool nonzero = from_float ? f != 0.0 : (low | high) != 0u;
    if (pc.to == T_F32) {
      out32[i] = floatBitsToUint(f);
    } else if (pc.to == T_F16) {
      out16[i] = float16_t(f);
    } else if (pc.to == T_I32) {
      out32[i] = low;
    } else if (pc.to == T_I64) {
      out32[2u * i] = low;
      out32[2u * i + 1u] = high;
    } else {
      out8[i] = uint8_t(nonzero ? 1u : 0u);
    }
  }
}
