// The catch-everything wrapper behind each extern "C" trampoline of a
// plugin's function table, and the checks those trampolines share.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "rtscope/kit/error.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

// Passes one message to the host's error sink, if it has one.
void report(const rts_error_sink* err, rts_status status, const char* message);

// Call only inside a catch block: reports the exception being handled once
// and returns its status. Error keeps its status and message; bad_alloc and
// other exceptions are reported as "<backend>: out of memory" and
// "<backend>: internal error: ...".
rts_status report_current_exception(const char* backend, const rts_error_sink* err) noexcept;

// Runs `body`; on an exception reports it once and returns its status.
template <typename Body>
rts_status guarded(const char* backend, const rts_error_sink* err, Body&& body) noexcept {
  try {
    body();
    return RTS_OK;
  } catch (...) {
    return report_current_exception(backend, err);
  }
}

template <typename T>
void require(const T* pointer, const char* what) {
  if (pointer == nullptr) fail_invalid(what, " is NULL");
}

// Copies `full` into the caller's struct up to the size the caller knows
// (the first member of every sized ABI struct is its uint32_t struct_size).
template <typename T>
void copy_sized(const T& full, T* out) {
  const uint32_t caller_size = out->struct_size;
  if (caller_size < sizeof(uint32_t)) fail_invalid("struct_size ", caller_size, " is too small");
  std::memcpy(reinterpret_cast<char*>(out) + sizeof(uint32_t),
              reinterpret_cast<const char*>(&full) + sizeof(uint32_t),
              std::min<size_t>(caller_size, sizeof(T)) - sizeof(uint32_t));
}

}  // namespace rtscope::kit
