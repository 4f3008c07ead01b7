#version 450
// Element moves where each output element reads one input element or a
// fill value, found from its coordinates (any element type, RAW):
//   pad              out[c] = x[c - pad_begin], or by reflect / edge rules
//                    outside x, or the fill value (constant mode);
//   trilu            out = x inside the kept triangle of the last two dims,
//                    0 outside;
//   gather_elements  out[c] = x[c with c[axis] = indices[c]].
// Coordinates are in tensor elements; 8-byte elements move as `units` = 2
// RAW words each.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer In { RAW x[]; };
layout(std430, binding = 1) readonly buffer Indices { uint id_words[]; };
layout(std430, binding = 2) writeonly buffer Out { RAW o[]; };

#define MAP_RANK 6

// Mirrors IndexMapPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint mode;   // 0 pad, 1 trilu, 2 gather_elements
  uint rank;
  uint count;  // output RAW elements
  uint units;  // RAW elements per tensor element
  uint param;  // pad: 0 constant, 1 reflect, 2 edge; trilu: 1 upper; gather_elements: axis
  int k;       // trilu: the diagonal
  uint fill_low;   // the fill value's RAW words (pad)
  uint fill_high;
  uint id_words;   // gather_elements: 1 (i32) or 2 (i64)
  uint out_dims[MAP_RANK];
  uint in_dims[MAP_RANK];
  int pad_begin[MAP_RANK];
} pc;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    const uint element = i / pc.units;
    const uint unit = i % pc.units;
    uint rest = element;
    uint src = 0u;
    uint stride = 1u;
    bool inside = true;
    int row = 0;
    int col = 0;
    for (int d = int(pc.rank) - 1; d >= 0; --d) {
      int pos = int(rest % pc.out_dims[d]);
      rest /= pc.out_dims[d];
      const int size = int(pc.in_dims[d]);
      if (pc.mode == 0u) {
        pos -= pc.pad_begin[d];
        if (pos < 0 || pos >= size) {
          if (pc.param == 1u) {
            pos = pos < 0 ? -pos : 2 * (size - 1) - pos;
          } else if (pc.param == 2u) {
            pos = clamp(pos, 0, size - 1);
          } else {
            inside = false;
          }
        }
      } else if (pc.mode == 1u) {
        if (d == int(pc.rank) - 1) col = pos;
        if (d == int(pc.rank) - 2) row = pos;
      } else if (uint(d) == pc.param) {
        int index = int(id_words[element * pc.id_words]);
        if (pc.id_words == 2u && int(id_words[element * 2u + 1u]) < 0 && index >= 0) index = -1 - size;
        if (index < 0) index += size;
        pos = clamp(index, 0, size - 1);  // the cpu kernel refuses such indices
      } else if (pc.mode == 2u) {
        pos = min(pos, size - 1);  // indices longer than data along other axes
      }
      src += uint(max(pos, 0)) * stride;
      stride *= uint(size);
    }
    if (pc.mode == 1u) inside = pc.param == 1u ? col - row >= pc.k : col - row <= pc.k;
    if (inside) {
      o[i] = x[src * pc.units + unit];
    } else {
      o[i] = RAW(unit == 0u ? pc.fill_low : pc.fill_high);
    }
  }
}
