// IEEE 754 binary16 <-> binary32 conversion, shared by the plugins. f16
// tensors are often computed or staged in f32, so these can run on every
// f16 input and output: the bulk versions use the F16C instructions when
// the processor has them.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RTSCOPE_KIT_HAVE_X86 1
#endif

namespace rtscope::kit {

inline float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t result;
  if (exponent == 0) {
    if (mantissa == 0) {
      result = sign;
    } else {
      // Subnormal half: normalize into a float.
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      mantissa &= 0x3ffu;
      result = sign | (exponent << 23) | (mantissa << 13);
    }
  } else if (exponent == 0x1f) {
    result = sign | 0x7f800000u | (mantissa << 13);  // inf or nan
  } else {
    result = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &result, sizeof(value));
  return value;
}

// Rounds to nearest, ties to even; overflow gives inf, nan stays nan.
inline uint16_t float_to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan
    return sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u);
  }
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504
  if (abs < 0x38800000u) {
    // Result is a half subnormal (or zero): shift the implicit-one mantissa.
    if (abs < 0x33000001u) return sign;  // below half the smallest subnormal
    const uint32_t exponent = abs >> 23;
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exponent;  // 14..24 places
    uint32_t half_mantissa = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half_mantissa & 1u))) ++half_mantissa;
    return sign | static_cast<uint16_t>(half_mantissa);
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits.
  uint32_t rounded = abs - ((127u - 15u) << 23);
  rounded += 0xfffu + ((rounded >> 13) & 1u);
  return sign | static_cast<uint16_t>(rounded >> 13);
}

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

inline bool processor_has_f16c() {
  static const bool has = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
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
