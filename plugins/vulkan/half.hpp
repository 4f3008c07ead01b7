// IEEE 754 binary16 <-> binary32 conversion for devices without 16-bit
// storage: there f16 tensors live on the device as f32, and staging and
// constant uploads convert on the host.
#pragma once

#include <cstdint>
#include <cstring>

#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

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
  if (abs >= 0x7f800000u) return sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u);
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504
  if (abs < 0x38800000u) {
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
  uint32_t rounded = abs - ((127u - 15u) << 23);
  rounded += 0xfffu + ((rounded >> 13) & 1u);
  return sign | static_cast<uint16_t>(rounded >> 13);
}

// Copies `elements` values from `source` (stored as `from`) to `target`
// (stored as `to`); the dtypes are equal or f16/f32.
inline void convert_elements(void* target, rts_dtype to, const void* source, rts_dtype from,
                             size_t elements, size_t element_bytes) {
  if (to == from) {
    if (elements > 0) std::memcpy(target, source, elements * element_bytes);
    return;
  }
  if (from == RTS_DTYPE_F16 && to == RTS_DTYPE_F32) {
    const auto* in = static_cast<const uint16_t*>(source);
    auto* out = static_cast<float*>(target);
    for (size_t i = 0; i < elements; ++i) out[i] = half_to_float(in[i]);
  } else {
    const auto* in = static_cast<const float*>(source);
    auto* out = static_cast<uint16_t*>(target);
    for (size_t i = 0; i < elements; ++i) out[i] = float_to_half(in[i]);
  }
}

}  // namespace rtscope::vulkan
