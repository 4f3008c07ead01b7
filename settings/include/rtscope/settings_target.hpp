// SettingsTarget: anything whose RuntimeSettings a scope can swap (a host
// Module implements it). Keeps the scopes independent of the host.
#pragma once

#include <string>

#include "rtscope/runtime_settings.hpp"

namespace rtscope {

class SettingsTarget {
 public:
  virtual ~SettingsTarget() = default;
  // Name used in error messages.
  virtual const std::string& settings_target_name() const = 0;
  virtual RuntimeSettings runtime_settings() const = 0;
  // May throw (e.g. a backend rejects the combination); must leave the
  // target unchanged when it does.
  virtual void set_runtime_settings(const RuntimeSettings& settings) = 0;
};

}  // namespace rtscope
