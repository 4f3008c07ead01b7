#version 450
// Comparisons and logic with numpy broadcasting, bool out: equal, less,
// greater, less_equal, greater_equal on f32, f16, i32, i64 or bool
// operands (integers compared exactly), and, or, xor, not on bool. The
// host merges dims and hands over the output dims plus each operand's
// strides (0 along broadcast dims). Each input binding is declared at every
// width it may hold; `type` says which one a dispatch reads.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_8bit_storage : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer A32 { uint a32[]; };
layout(std430, binding = 0) readonly buffer A16 { float16_t a16[]; };
layout(std430, binding = 0) readonly buffer A8 { uint8_t a8[]; };
layout(std430, binding = 1) readonly buffer B32 { uint b32[]; };
layout(std430, binding = 1) readonly buffer B16 { float16_t b16[]; };
layout(std430, binding = 1) readonly buffer B8 { uint8_t b8[]; };
layout(std430, binding = 2) writeonly buffer Out { uint8_t o[]; };

// Mirrors ComparePush in shader_interface.hpp (types as CastType).
layout(push_constant) uniform Push {
  uint op;  // 0 equal, 1 less, 2 greater, 3 less_equal, 4 greater_equal, 5 and, 6 or, 7 xor, 8 not
  uint rank;
  uint count;
  uint type;  // 0 f32, 1 f16, 2 i32, 3 i64, 4 bool
  uint dims[MAX_RANK];
  uint a_strides[MAX_RANK];
  uint b_strides[MAX_RANK];
} pc;

// -1, 0 or 1 as a compares to b (0 for unordered NaN, which the ops below
// treat as false except through `unordered`).
int order(float x, float y) { return x < y ? -1 : (x > y ? 1 : 0); }

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    uint rest = i;
    uint ai = 0u;
    uint bi = 0u;
    for (int d = int(pc.rank) - 1; d >= 0; --d) {
      const uint index = rest % pc.dims[d];
      rest /= pc.dims[d];
      ai += index * pc.a_strides[d];
      bi += index * pc.b_strides[d];
    }
    int cmp = 0;         // sign of a - b
    bool unordered = false;  // a NaN operand: only != would hold
    bool a_true = false;
    bool b_true = false;
    if (pc.type == 0u || pc.type == 1u) {
      const float x = pc.type == 0u ? uintBitsToFloat(a32[ai]) : float(a16[ai]);
      const float y = pc.type == 0u ? uintBitsToFloat(b32[bi]) : float(b16[bi]);
      unordered = isnan(x) || isnan(y);
      cmp = order(x, y);
    } else if (pc.type == 2u) {
      const int x = int(a32[ai]);
      const int y = int(b32[bi]);
      cmp = x < y ? -1 : (x > y ? 1 : 0);
    } else if (pc.type == 3u) {
      const int xh = int(a32[2u * ai + 1u]);
      const int yh = int(b32[2u * bi + 1u]);
      const uint xl = a32[2u * ai];
      const uint yl = b32[2u * bi];
      cmp = xh != yh ? (xh < yh ? -1 : 1) : (xl < yl ? -1 : (xl > yl ? 1 : 0));
    } else {
      a_true = uint(a8[ai]) != 0u;
      b_true = uint(b8[bi]) != 0u;
      cmp = int(a_true) - int(b_true);
    }
    bool r;
    switch (pc.op) {
      case 0u: r = !unordered && cmp == 0; break;
      case 1u: r = !unordered && cmp < 0; break;
      case 2u: r = !unordered && cmp > 0; break;
      case 3u: r = !unordered && cmp <= 0; break;
      case 4u: r = !unordered && cmp >= 0; break;
      case 5u: r = a_true && b_true; break;
      case 6u: r = a_true || b_true; break;
      case 7u: r = a_true != b_true; break;
      default: r = !a_true; break;
    }
    o[i] = uint8_t(r ? 1u : 0u);
  }
}
