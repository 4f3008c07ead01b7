#include "kernels/channel_blocks.hpp"

#include <immintrin.h>

#include "isa_builds.hpp"

// GCC 12 warns that the unpack intrinsics' pass-through operand, which
// avx512fintrin.h leaves undefined on purpose, may be used uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace rtscope::cpu {
namespace {

// Transposes 16 rows of 16 floats in registers: unpacks of pairs, then of
// quads, then two shuffles of 128-bit lanes.
__attribute__((target("avx512f"), always_inline)) inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int h = 0; h < 16; h += 8) {
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// Positions [from, positions) of one block, one element at a time: the
// tail after whole tiles, or every position on a CPU without AVX-512.
void to_block_scalar(const float* plain, int64_t plane_stride, float* block, int64_t from,
                     int64_t positions) {
  for (int64_t p = from; p < positions; ++p) {
    for (int64_t c = 0; c < kChannelBlock; ++c) {
      block[p * kChannelBlock + c] = plain[c * plane_stride + p];
    }
  }
}

// The epilogue's arithmetic: operand + value, then value > 0 ? value : 0.
float through(float value, const BlockTail& tail, int64_t at) {
  if (tail.residual != nullptr) value = tail.residual[at] + value;
  return tail.relu ? (value > 0.0f ? value : 0.0f) : value;
}

void from_block_scalar(const float* block, float* plain, int64_t plane_stride, int64_t from,
                       int64_t positions, const BlockTail& tail) {
  for (int64_t c = 0; c < kChannelBlock; ++c) {
    for (int64_t p = from; p < positions; ++p) {
      plain[c * plane_stride + p] =
          through(block[p * kChannelBlock + c], tail, c * plane_stride + p);
    }
  }
}

// The whole tiles of one block; returns the positions they cover.
__attribute__((target("avx512f"))) int64_t to_block_avx512(const float* plain, int64_t plane_stride,
                                                           float* block, int64_t positions) {
  const int64_t tiles = positions / kChannelBlock * kChannelBlock;
  for (int64_t p = 0; p < tiles; p += kChannelBlock) {
    __m512 r[16];
    for (int c = 0; c < 16; ++c) r[c] = _mm512_loadu_ps(plain + c * plane_stride + p);
    transpose16(r);
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(block + (p + i) * kChannelBlock, r[i]);
  }
  return tiles;
}

// max(value, +0) is relu's value > 0 ? value : 0 for NaN and -0 too: the
// instruction returns its second operand when either is NaN or both are
// zeros.
__attribute__((target("avx512f"))) int64_t from_block_avx512(const float* block, float* plain,
                                                             int64_t plane_stride,
                                                             int64_t positions,
                                                             const BlockTail& tail) {
  const int64_t tiles = positions / kChannelBlock * kChannelBlock;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t p = 0; p < tiles; p += kChannelBlock) {
    __m512 r[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(block + (p + i) * kChannelBlock);
    transpose16(r);
    for (int c = 0; c < 16; ++c) {
      const int64_t at = c * plane_stride + p;
      if (tail.residual != nullptr) r[c] = _mm512_add_ps(_mm512_loadu_ps(tail.residual + at), r[c]);
      if (tail.relu) r[c] = _mm512_max_ps(r[c], zero);
      _mm512_storeu_ps(plain + at, r[c]);
    }
  }
  return tiles;
}

}  // namespace

void to_channel_blocks(const float* plain, int64_t plane_stride, float* blocked, int64_t channels,
                       int64_t positions) {
  static const bool wide = cpu_has_avx512();
  for (int64_t c0 = 0; c0 < channels; c0 += kChannelBlock) {
    const float* src = plain + c0 * plane_stride;
    float* block = blocked + c0 * positions;
    const int64_t done = wide ? to_block_avx512(src, plane_stride, block, positions) : 0;
    to_block_scalar(src, plane_stride, block, done, positions);
  }
}

void from_channel_blocks(const float* blocked, float* plain, int64_t plane_stride, int64_t channels,
                         int64_t positions, BlockTail tail) {
  static const bool wide = cpu_has_avx512();
  for (int64_t c0 = 0; c0 < channels; c0 += kChannelBlock) {
    const float* block = blocked + c0 * positions;
    float* dst = plain + c0 * plane_stride;
    BlockTail block_tail = tail;
    if (tail.residual != nullptr) block_tail.residual = tail.residual + c0 * plane_stride;
    const int64_t done =
        wide ? from_block_avx512(block, dst, plane_stride, positions, block_tail) : 0;
    from_block_scalar(block, dst, plane_stride, done, positions, block_tail);
  }
}

}  // namespace rtscope::cpu
