// Declarations shared by every rtscope compute shader. Each shader is built
// into variants by defines (plugins/vulkan/CMakeLists.txt):
//   ELEM_F16   float tensors are stored as float16_t and computed in f32
//              (matvec_t's F16_PRODUCTS variant multiplies in f16)
//   RAW_BITS   element width of the data-movement shaders: 32, 16 or 8
// Workgroup sizes are specialization constants chosen per device from its
// limits (pipelines.cpp), so one SPIR-V module serves every device.
#ifndef RTSCOPE_COMMON_GLSL
#define RTSCOPE_COMMON_GLSL

#if defined(ELEM_F16) || (defined(RAW_BITS) && RAW_BITS == 16)
#extension GL_EXT_shader_16bit_storage : require
#endif
#if defined(RAW_BITS) && RAW_BITS == 8
#extension GL_EXT_shader_8bit_storage : require
#endif

// Storage type of float tensors; arithmetic always happens in f32.
#ifdef ELEM_F16
#define ELEM float16_t
#else
#define ELEM float
#endif

// Storage type of data-movement shaders (no arithmetic on the values).
#if defined(RAW_BITS)
#if RAW_BITS == 32
#define RAW uint
#elif RAW_BITS == 16
#define RAW uint16_t
#elif RAW_BITS == 8
#define RAW uint8_t
#else
#error RAW_BITS must be 32, 16 or 8
#endif
#endif

// Rank limit of the strided index arithmetic; the host merges dims first.
#define MAX_RANK 8

// Invocations in the whole dispatch along x, for grid-stride loops.
#define GRID_STRIDE_X (gl_NumWorkGroups.x * gl_WorkGroupSize.x)

// The low 32-bit word of an i64 stored as two uint words (little-endian).
// Shaders never need 64-bit arithmetic on positions or ids.
#define LOW_WORD(buffer, index) int(buffer[(index) * 2u])

// The position of work item `item` from a pos buffer holding one position
// for every batch row (per_pos 0) or one per batch row, per_pos items each
// (rope, attention, kv_cache_update: batch row b runs at pos[b]).
#define POSITION(buffer, item, per_pos) LOW_WORD(buffer, (per_pos) == 0u ? 0u : (item) / (per_pos))

// Shape specialization (kernel_specialization eager and lazy): a shader
// mirrors its leading push-constant words as specialization constants
// from id 8 on (shape_constant_count in shader_interface.hpp) and reads
// them through SHAPE. A constant of 0 means "not specialized: read the
// push constant", so the generic pipeline is the one with every constant
// 0, and a specialized one carries a dispatch's own words: the driver then
// compiles loop bounds and strides as constants. The pushed values stay
// the same either way, so a word that really is 0 reads 0 both ways.
#define SHAPE_CONSTANT(id, name) layout(constant_id = id) const uint name = 0u
#define SHAPE(name, field) ((name) != 0u ? (name) : (field))

#endif  // RTSCOPE_COMMON_GLSL
