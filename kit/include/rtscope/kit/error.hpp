// The exception type the plugins use internally and the message helpers
// that build its text. The trampolines (rtscope/kit/abi_guard.hpp) turn an
// Error into an rts_status plus one message for the host's error sink;
// nothing thrown here ever crosses the C boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>

#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

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

// "[4,256]"; -1 dims print as '?'.
std::string shape_str(std::span<const int64_t> dims);
// "[0,0,-1]": a list of ints such as a shape attribute, where -1 is a
// value rather than a dynamic dim.
std::string ints_str(std::span<const int64_t> values);
// "f32"; "unknown-dtype" for a value outside the enum.
const char* dtype_name(rts_dtype dtype);
// Bytes per element; 0 for a value outside the enum.
size_t dtype_size(rts_dtype dtype);

}  // namespace rtscope::kit
