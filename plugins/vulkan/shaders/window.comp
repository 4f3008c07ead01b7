#version 450
// Sliding windows over 1 to 3 spatial dims of [N, C, spatial...] tensors:
// conv (groups, strides, dilations, pads; optional bias), conv_transpose,
// max_pool and avg_pool. One invocation per output element (grid-stride):
// a conv output sums its group's input channels times every kernel tap, a
// pool output combines the taps of its own channel plane. Taps in the
// padding read nothing. conv_transpose gathers too: output position o
// takes tap k from input position (o + pad - k·dilation) / stride where
// that divides exactly.
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) readonly buffer Weights { ELEM w[]; };
layout(std430, binding = 2) readonly buffer Bias { ELEM bias[]; };
layout(std430, binding = 3) writeonly buffer Out { ELEM o[]; };

#define SPATIAL 3

// Mirrors WindowPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint mode;  // 0 conv, 1 max_pool, 2 avg_pool over taps inside, 3 avg_pool counting pads,
              // 4 conv_transpose
  uint count;
  uint spatial;
  uint flags;  // 1: conv adds the bias
  uint in_per_group;   // conv, conv_transpose: input channels per group
  uint out_per_group;  // conv, conv_transpose: output channels per group
  uint out_channels;
  uint in_dims[SPATIAL];
  uint out_dims[SPATIAL];
  uint kernel[SPATIAL];
  uint strides[SPATIAL];
  uint dilations[SPATIAL];
  int pad_begin[SPATIAL];  // conv_transpose may crop (negative)
  uint pad_end[SPATIAL];
} pc;

// The input position that kernel tap `k` of the window at `origin` reads
// along spatial dim d; -1 when there is none (conv_transpose: not on the
// stride grid).
int tap_position(int origin, uint k, uint d) {
  if (pc.mode != 4u) return origin + int(k * pc.dilations[d]);
  const int t = origin - int(k * pc.dilations[d]);
  if (t < 0 || t % int(pc.strides[d]) != 0) return -1;
  return t / int(pc.strides[d]);
}

void main() {
  uint in_size = 1u;
  uint out_size = 1u;
  uint taps = 1u;
  for (uint d = 0u; d < pc.spatial; ++d) {
    in_size *= pc.in_dims[d];
    out_size *= pc.out_dims[d];
    taps *= pc.kernel[d];
  }
  for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += GRID_STRIDE_X) {
    const uint plane = i / out_size;  // n·channels + channel of the output
    // The window's first position along each dim (may lie in the padding).
    int origin[SPATIAL];
    uint rest = i % out_size;
    for (int d = int(pc.spatial) - 1; d >= 0; --d) {
      const uint at = rest % pc.out_dims[d];
      origin[d] = pc.mode == 4u ? int(at) + pc.pad_begin[d]
                                : int(at * pc.strides[d]) - pc.pad_begin[d];
      rest /= pc.out_dims[d];
    }
    float acc = pc.mode == 1u ? -1.0 / 0.0 : 0.0;
    uint counted = 0u;
    uint first_channel;  // input plane of the first channel read
    uint channels;
    uint weights = 0u;
    if (pc.mode == 4u) {
      const uint n = plane / pc.out_channels;
      const uint m = plane % pc.out_channels;
      const uint group = m / pc.out_per_group;
      const uint in_channels = pc.in_per_group * (pc.out_channels / pc.out_per_group);
      first_channel = n * in_channels + group * pc.in_per_group;
      channels = pc.in_per_group;
      // w is [in_channels, out_per_group, taps]: channel c's row for m.
      weights = (group * pc.in_per_group * pc.out_per_group + m % pc.out_per_group) * taps;
      if ((pc.flags & 1u) != 0u) acc = float(bias[m]);
    } else if (pc.mode == 0u) {
      const uint n = plane / pc.out_channels;
      const uint m = plane % pc.out_channels;
      const uint group = m / pc.out_per_group;
      const uint in_channels = pc.in_per_group * (pc.out_channels / pc.out_per_group);
      first_channel = n * in_channels + group * pc.in_per_group;
      channels = pc.in_per_group;
      weights = m * pc.in_per_group * taps;
      if ((pc.flags & 1u) != 0u) acc = float(bias[m]);
    } else {
      first_channel = plane;
      channels = 1u;
    }
    for (uint k = 0u; k < taps; ++k) {
      uint offset = 0u;
      bool inside = true;
      bool padded = true;
      uint kr = k;
      for (int d = int(pc.spatial) - 1; d >= 0; --d) {
        const int pos = tap_position(origin[d], kr % pc.kernel[d], uint(d));
        kr /= pc.kernel[d];
        inside = inside && pos >= 0 && pos < int(pc.in_dims[d]);
        padded = padded && pos < int(pc.in_dims[d] + pc.pad_end[d]);
      }
      if (pc.mode == 3u ? padded : inside) ++counted;
      if (!inside) continue;
      uint stride = 1u;
      kr = k;
      for (int d = int(pc.spatial) - 1; d >= 0; --d) {
        const int pos = tap_position(origin[d], kr % pc.kernel[d], uint(d));
        kr /= pc.kernel[d];
        offset += uint(pos) * stride;
        stride *= pc.in_dims[d];
      }
      if (pc.mode == 0u) {
        for (uint c = 0u; c < channels; ++c) {
          acc += float(x[(first_channel + c) * in_size + offset]) * float(w[weights + c * taps + k]);
        }
      } else if (pc.mode == 4u) {
        for (uint c = 0u; c < channels; ++c) {
          acc += float(x[(first_channel + c) * in_size + offset]) *
                 float(w[weights + c * pc.out_per_group * taps + k]);
        }
      } else {
        const float v = float(x[first_channel * in_size + offset]);
        if (pc.mode == 1u) {
          acc = isnan(v) || v > acc ? v : acc;
        } else {
          acc += v;
        }
      }
    }
    if (pc.mode == 2u || pc.mode == 3u) acc /= float(counted);
    o[i] = ELEM(acc);
  }
}
