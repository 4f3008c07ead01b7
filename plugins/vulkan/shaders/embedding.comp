#version 450
// embedding: out[r, :] = table[ids[r], :]. ids are i32 or i64 (id_words 1
// or 2 uint words each). The host rejects ids outside [0, V) before
// submitting whenever they are engine inputs; here such an id is clamped so
// that no read leaves the table. (Writing a zero row instead would need a
// 16-bit constant, i.e. the Int16 capability, in the 16-bit variant.)
// Widths are in RAW elements.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Table { RAW table[]; };
layout(std430, binding = 1) readonly buffer Ids { uint id_words[]; };
layout(std430, binding = 2) writeonly buffer Out { RAW o[]; };

// Mirrors EmbeddingPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint count;  // rows·width
  uint width;
  uint vocab;
  uint id_words;
} pc;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    const uint r = i / pc.width;
    const uint c = i % pc.width;
    const uint low = id_words[r * pc.id_words];
    // Negative ids (sign bit of the i32, or of the i64's high word) clamp to
    // 0, large ones to V−1.
    const uint sign_word = pc.id_words == 1u ? low : id_words[r * 2u + 1u];
    const bool negative = int(sign_word) < 0;
    const bool too_large = low >= pc.vocab || (pc.id_words == 2u && sign_word != 0u);
    const uint id = negative ? 0u : (too_large ? pc.vocab - 1u : low);
    o[i] = table[id * pc.width + c];
  }
}
