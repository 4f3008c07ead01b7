// Bulk IEEE 754 binary16 <-> binary32 conversion for the plugins. f16
// tensors are often computed or staged in f32, so these run on every f16
// input and output: they use the F16C instructions when the processor has
// them, and the scalar rtscope/half.hpp otherwise.
#pragma once

#include <cstdint>

#include "rtscope/half.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define RTSCOPE_KIT_HAVE_X86 1
#endif

namespace rtscope::kit {

// The scalar conversions are the schema's (rtscope/half.hpp); named here so
// that the bulk overloads below do not hide them.
using rtscope::float_to_half;
using rtscope::half_to_float;

namespace detail {

#if RTSCOPE_KIT_HAVE_X86
__attribute__((target("avx,f16c"))) inline void half_to_float_f16c(const uint16_t* in, float* out,
                                                                   int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(packed));
  }
  for (; i < count; ++i) out[i] = half_to_float(in[i]);
}

__attribute__((target("avx,f16c"))) inline void float_to_half_f16c(const float* in, uint16_t* out,
                                                                   int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i packed = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), packed);
  }
  for (; i < count; ++i) out[i] = float_to_half(in[i]);
}

// F16C from CPUID (clang 14's __builtin_cpu_supports does not know
// "f16c"); "avx" also covers the OS saving the YMM registers.
inline bool processor_has_f16c() {
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0 &&
           __builtin_cpu_supports("avx");
  }();
  return has;
}
#endif

}  // namespace detail

inline void half_to_float(const uint16_t* in, float* out, int64_t count) {
#if RTSCOPE_KIT_HAVE_X86
  if (detail::processor_has_f16c()) return detail::half_to_float_f16c(in, out, count);
#endif
  for (int64_t i = 0; i < count; ++i) out[i] = half_to_float(in[i]);
}

inline void float_to_half(const float* in, uint16_t* out, int64_t count) {
#if RTSCOPE_KIT_HAVE_X86
  if (detail::processor_has_f16c()) return detail::float_to_half_f16c(in, out, count);
#endif
  for (int64_t i = 0; i < count; ++i) out[i] = float_to_half(in[i]);
}

}  // namespace rtscope::kit
