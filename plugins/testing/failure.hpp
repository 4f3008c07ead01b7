// The one exception type thrown inside the testing plugin. The extern "C"
// trampolines in entry.cpp turn it into a status and an error-sink message,
// so plugin code can fail from any depth without crossing the C boundary.
#pragma once

#include <stdexcept>
#include <string>

#include "rtscope/plugin_abi.h"

namespace rtscope_testing {

class Failure : public std::runtime_error {
 public:
  Failure(rts_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  rts_status status() const { return status_; }

 private:
  rts_status status_;
};

[[noreturn]] inline void fail(rts_status status, const std::string& message) {
  throw Failure(status, message);
}

}  // namespace rtscope_testing
