// The exception type the CPU plugin uses internally. Trampolines in
// plugin_entry.cpp turn it into an rts_status plus a message for the host's
// error sink; nothing thrown here ever crosses the C boundary.
#pragma once

#include <cstdint>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class Error : public std::runtime_error {
 public:
  Error(rts_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  rts_status status() const { return status_; }

 private:
  rts_status status_;
};

// Concatenates anything streamable; used to build error messages.
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <typename... Parts>
[[noreturn]] void fail(rts_status status, const Parts&... parts) {
  throw Error(status, str_cat(parts...));
}

// Shorthand for the most common failure: a bad shape, dtype or attribute.
template <typename... Parts>
[[noreturn]] void fail_invalid(const Parts&... parts) {
  fail(RTS_ERROR_INVALID_ARGUMENT, parts...);
}

// "[4,256]"
inline std::string shape_str(std::span<const int64_t> dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ',';
    text += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  text += ']';
  return text;
}

// "[0,0,-1]": a list of ints such as a shape attribute, where -1 is a
// value rather than a dynamic dim.
inline std::string ints_str(std::span<const int64_t> values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  text += ']';
  return text;
}

inline const char* dtype_name(rts_dtype dtype) {
  switch (dtype) {
    case RTS_DTYPE_F32:
      return "f32";
    case RTS_DTYPE_F16:
      return "f16";
    case RTS_DTYPE_I32:
      return "i32";
    case RTS_DTYPE_I64:
      return "i64";
    case RTS_DTYPE_BOOL:
      return "bool";
  }
  return "unknown-dtype";
}

// Bytes per element; 0 for a value outside the enum.
inline size_t dtype_size(rts_dtype dtype) {
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

}  // namespace rtscope::cpu
