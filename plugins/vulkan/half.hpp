// f16 <-> f32 staging for devices without 16-bit storage: there f16
// tensors live on the device as f32, and staging and constant uploads
// convert on the host (the conversion itself is rtscope/kit/half.hpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "kit_names.hpp"
#include "rtscope/kit/half.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

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
