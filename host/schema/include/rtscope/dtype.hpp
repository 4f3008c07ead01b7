// Element types of tensors and their names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rtscope/half.hpp"  // float_to_half, half_to_float

namespace rtscope {

enum class DType : uint8_t { f32 = 0, f16 = 1, i32 = 2, i64 = 3, boolean = 4 };

// Bytes per element.
std::size_t dtype_size(DType dtype);

// "f32", "f16", "i32", "i64", "bool".
std::string_view to_string(DType dtype);

// Inverse of to_string; throws InputError listing the valid names.
DType dtype_from_string(std::string_view name);

bool is_floating(DType dtype);

}  // namespace rtscope
