// Float tensors read 16 bytes at a time, as uvec4: VEC elements of the
// storage type (ELEM, common.glsl) per vector, widened to f32 by unpack16.
// Include after common.glsl and the shader's #extension lines, which
// enable GL_EXT_control_flow_attributes.
#ifndef RTSCOPE_VEC16_GLSL
#define RTSCOPE_VEC16_GLSL

#ifdef ELEM_F16
const uint VEC = 8u;  // halves per uvec4
#else
const uint VEC = 4u;  // floats per uvec4
#endif

// The VEC elements of a 16-byte vector, in f32.
void unpack16(uvec4 x, out float f[VEC]) {
#ifdef ELEM_F16
  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    const vec2 p = unpackHalf2x16(x[i]);
    f[2u * i] = p.x;
    f[2u * i + 1u] = p.y;
  }
#else
  const vec4 p = uintBitsToFloat(x);
  [[unroll]] for (uint i = 0u; i < 4u; ++i) f[i] = p[i];
#endif
}

#endif  // RTSCOPE_VEC16_GLSL
