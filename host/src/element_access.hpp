// Reads and writes one tensor element as a double, whatever the dtype.
// Used where speed does not matter (seeded init, to_doubles).
#pragma once

#include <cmath>
#include <cstdint>

#include "rtscope/dtype.hpp"

namespace rtscope::detail {

inline double load_element(DType dtype, const void* base, int64_t index) {
  switch (dtype) {
    case DType::f32:
      return static_cast<const float*>(base)[index];
    case DType::f16:
      return half_to_float(static_cast<const uint16_t*>(base)[index]);
    case DType::i32:
      return static_cast<const int32_t*>(base)[index];
    case DType::i64:
      return static_cast<double>(static_cast<const int64_t*>(base)[index]);
    case DType::boolean:
      return static_cast<const uint8_t*>(base)[index] != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

// Integers are rounded to nearest; booleans store value != 0.
inline void store_element(DType dtype, void* base, int64_t index, double value) {
  switch (dtype) {
    case DType::f32:
      static_cast<float*>(base)[index] = static_cast<float>(value);
      return;
    case DType::f16:
      // Rounds through float; this differs from direct double -> half
      // rounding only within one float ulp of a half tie, which is harmless
      // for init and test data (readers decode the stored half anyway).
      static_cast<uint16_t*>(base)[index] = float_to_half(static_cast<float>(value));
      return;
    case DType::i32:
      static_cast<int32_t*>(base)[index] = static_cast<int32_t>(std::llround(value));
      return;
    case DType::i64:
      static_cast<int64_t*>(base)[index] = static_cast<int64_t>(std::llround(value));
      return;
    case DType::boolean:
      static_cast<uint8_t*>(base)[index] = value != 0.0 ? 1 : 0;
      return;
  }
}

}  // namespace rtscope::detail
