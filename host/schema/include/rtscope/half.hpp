// IEEE 754 binary16 <-> binary32 conversion, the one scalar version used by
// the host, the reference and every plugin (the kit adds bulk versions).
// Inline: plugins convert every element of an f16 tensor staged in f32.
#pragma once

#include <bit>
#include <cstdint>

namespace rtscope {

// Integer-only conversion so the result does not depend on the FPU rounding
// mode and is identical on every machine.
inline uint16_t float_to_half(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude >= 0x7f800000u) {  // inf or nan
    if (magnitude == 0x7f800000u) return sign | 0x7c00u;
    // Keep the top payload bits and force the quiet bit so a nan stays a nan.
    return sign | 0x7e00u | static_cast<uint16_t>((magnitude >> 13) & 0x3ffu);
  }
  // 65520 is halfway between the largest half (65504, odd mantissa) and
  // 65536, so ties-to-even sends it and everything above to infinity.
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;

  if (magnitude >= 0x38800000u) {  // normal half (>= 2^-14)
    // Rebias the exponent (127 -> 15) and round the 13 dropped bits to
    // nearest even; a mantissa carry correctly bumps the exponent.
    const uint32_t odd = (magnitude >> 13) & 1u;
    return sign | static_cast<uint16_t>((magnitude - 0x38000000u + 0x0fffu + odd) >> 13);
  }

  // Subnormal half: the value in units of 2^-24 is mantissa >> shift.
  const uint32_t exponent = magnitude >> 23;
  if (exponent < 102) return sign;  // below 2^-25: rounds to zero
  const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - exponent;  // 14..24
  uint32_t result = mantissa >> shift;
  const uint32_t remainder = mantissa & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1);
  if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
  return sign | static_cast<uint16_t>(result);
}

inline float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;

  if (exponent == 0x1fu) {  // inf or nan
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent != 0) {
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  }
  if (mantissa == 0) return std::bit_cast<float>(sign);
  // Subnormal half: normalize into a float exponent.
  uint32_t float_exponent = 113;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --float_exponent;
  }
  mantissa &= 0x3ffu;
  return std::bit_cast<float>(sign | (float_exponent << 23) | (mantissa << 13));
}

}  // namespace rtscope
