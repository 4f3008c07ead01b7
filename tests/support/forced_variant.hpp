// Forces the cpu plugin's kernel variant (RTSCOPE_CPU_FORCE_VARIANT) for
// the contexts created in its scope.
#pragma once

#include <string>

#include "support/env_guard.hpp"

namespace rtscope::testing {

class ForcedVariant {
 public:
  explicit ForcedVariant(const std::string& name) : guard_("RTSCOPE_CPU_FORCE_VARIANT", name) {}

 private:
  EnvGuard guard_;
};

}  // namespace rtscope::testing
