#version 450
// Ordered stream compaction for the data-dependent ops, in one workgroup.
// nonzero writes the row-major coordinates of each selected element of x as
// i64 (two uint words); masked_select (MASKED_SELECT) copies the elements
// of x whose mask byte is set. Invocation t scans one contiguous chunk: it
// counts its selected elements, the workgroup takes an exclusive prefix sum
// of the counts, then each invocation writes its elements from its offset,
// so the output keeps row-major order. At most `rows` results are written;
// nonzero fills the rows past the count with -1.
#include "common.glsl"
#ifdef MASKED_SELECT
#extension GL_EXT_shader_8bit_storage : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;

layout(std430, binding = 0) readonly buffer In { RAW x[]; };
#ifdef MASKED_SELECT
layout(std430, binding = 1) readonly buffer Mask { uint8_t m[]; };
layout(std430, binding = 2) writeonly buffer Out { RAW o[]; };
#else
layout(std430, binding = 1) writeonly buffer Out { uint o[]; };
#endif

// Mirrors SelectPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint count;       // elements of x
  uint rows;        // result rows the output holds
  uint words;       // RAW words per element of x (2 for 8-byte elements)
  uint value_mask;  // nonzero: bits that make an element nonzero
  uint rank;        // nonzero: rank of x
  uint pad0;
  uint pad1;
  uint pad2;
  uint dims[MAX_RANK];
} pc;

shared uint offsets[WG];
shared uint total;

bool selected(uint i) {
#ifdef MASKED_SELECT
  return uint(m[i]) != 0u;
#else
  uint bits = 0u;
  for (uint w = 0u; w < pc.words; ++w) bits |= uint(x[i * pc.words + w]);
  return (bits & pc.value_mask) != 0u;
#endif
}

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint chunk = (pc.count + WG - 1u) / WG;
  const uint begin = min(lid * chunk, pc.count);
  const uint end = min(begin + chunk, pc.count);
  uint found = 0u;
  for (uint i = begin; i < end; ++i) {
    if (selected(i)) ++found;
  }
  offsets[lid] = found;
  barrier();
  if (lid == 0u) {
    uint sum = 0u;
    for (uint t = 0u; t < WG; ++t) {
      const uint c = offsets[t];
      offsets[t] = sum;
      sum += c;
    }
    total = sum;
  }
  barrier();
  uint row = offsets[lid];
  for (uint i = begin; i < end && row < pc.rows; ++i) {
    if (!selected(i)) continue;
#ifdef MASKED_SELECT
    for (uint w = 0u; w < pc.words; ++w) o[row * pc.words + w] = x[i * pc.words + w];
#else
    uint rest = i;
    for (int d = int(pc.rank) - 1; d >= 0; --d) {
      const uint word = (row * pc.rank + uint(d)) * 2u;
      o[word] = rest % pc.dims[d];
      o[word + 1u] = 0u;
      rest /= pc.dims[d];
    }
#endif
    ++row;
  }
#ifndef MASKED_SELECT
  for (uint r = total + lid; r < pc.rows; r += WG) {
    for (uint d = 0u; d < pc.rank; ++d) {
      o[(r * pc.rank + d) * 2u] = 0xffffffffu;
      o[(r * pc.rank + d) * 2u + 1u] = 0xffffffffu;
    }
  }
#endif
}
