#include "rtscope/kit/abi_guard.hpp"

#include <cstdio>
#include <exception>
#include <new>
#include <string>

namespace rtscope::kit {

void report(const rts_error_sink* err, rts_status status, const char* message) {
  if (err != nullptr && err->report != nullptr) err->report(err->user, status, message);
}

rts_status report_current_exception(const char* backend, const rts_error_sink* err) noexcept {
  try {
    throw;
  } catch (const Error& error) {
    report(err, error.status(), error.what());
    return error.status();
  } catch (const std::bad_alloc&) {
    // No allocation here: the heap is what just ran out.
    char message[128];
    std::snprintf(message, sizeof(message), "%s: out of memory", backend);
    report(err, RTS_ERROR_OUT_OF_MEMORY, message);
    return RTS_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& error) {
    try {
      const std::string message = std::string(backend) + ": internal error: " + error.what();
      report(err, RTS_ERROR_INTERNAL, message.c_str());
    } catch (...) {
      report(err, RTS_ERROR_INTERNAL, "internal error (no memory for the message)");
    }
    return RTS_ERROR_INTERNAL;
  } catch (...) {
    try {
      const std::string message = std::string(backend) + ": internal error: unknown exception";
      report(err, RTS_ERROR_INTERNAL, message.c_str());
    } catch (...) {
      report(err, RTS_ERROR_INTERNAL, "internal error: unknown exception");
    }
    return RTS_ERROR_INTERNAL;
  }
}

}  // namespace rtscope::kit
