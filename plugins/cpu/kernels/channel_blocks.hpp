// Activations between the graph's plain layout ([channels][positions])
// and oneDNN's blocked one ([channels / 16][positions][16], format tags
// nCw16c, nChw16c, nCdhw16c), for the blocked convolution forms
// (kernels/onednn_conv.cpp). A window of positions moves per call: all of
// an image's for a channel slice, a range of rows for a row slice. With
// AVX-512, 16 channels by 16 positions go through registers as one tile
// transpose; oneDNN's own reorder between such windows ran its generic
// strided kernel at about a quarter of that speed (ResNet-18's layer1:
// 72 us for a 100K-float window).
#pragma once

#include <cstdint>

namespace rtscope::cpu {

// Channels per block of the blocked layout.
inline constexpr int64_t kChannelBlock = 16;

// plain[c * plane_stride + p] -> blocked, for c < channels (a multiple of
// kChannelBlock) and p < positions.
void to_channel_blocks(const float* plain, int64_t plane_stride, float* blocked, int64_t channels,
                       int64_t positions);

// What a convolution's fused tail does to each value on its way out:
// add `residual` (laid out like the plain side), then relu, as
// fused_elementwise.hpp's epilogues do.
struct BlockTail {
  const float* residual = nullptr;
  bool relu = false;
};

// The reverse: blocked -> plain[c * plane_stride + p], through `tail`.
void from_channel_blocks(const float* blocked, float* plain, int64_t plane_stride, int64_t channels,
                         int64_t positions, BlockTail tail = {});

}  // namespace rtscope::cpu
