#include "rtscope/kit/error.hpp"

#include "rtscope/kit/enum_name.hpp"

namespace rtscope::kit {

std::string shape_str(std::span<const int64_t> dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ',';
    text += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return text + ']';
}

std::string ints_str(std::span<const int64_t> values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  return text + ']';
}

const char* dtype_name(rts_dtype dtype) {
  static constexpr const char* kNames[] = {"f32", "f16", "i32", "i64", "bool"};
  return enum_name(dtype, kNames, "unknown-dtype");
}

size_t dtype_size(rts_dtype dtype) {
  switch (dtype) {
    case RTS_DTYPE_F32:
    case RTS_DTYPE_I32:
      return 4;
    case RTS_DTYPE_F16:
      return 2;
    case RTS_DTYPE_I64:
      return 8;
    case RTS_DTYPE_BOOL:
      return 1;
  }
  return 0;
}

}  // namespace rtscope::kit
