// runtime_config: an RAII scope that applies setting overrides to a set of
// targets and restores each target's exact previous settings when it ends.
//
//   {
//     auto eager = rtscope::runtime_config(model, {{"kernel_specialization", "eager"}});
//     model.run(inputs);   // runs with eager kernels
//   }                      // previous settings restored here
//
// Scopes nest LIFO. Applying is all-or-nothing: if any target rejects the
// new settings, the targets already changed are restored before the error
// propagates. The host adds overloads taking a Module, a Model or lists of
// them (host/include/rtscope/scopes.hpp).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rtscope/runtime_settings.hpp"
#include "rtscope/settings_target.hpp"

namespace rtscope {

using SettingOverrides = std::map<std::string, std::string>;

class [[nodiscard]] RuntimeConfigScope {
 public:
  // Applies `overrides` to every target (each gets its own current settings
  // merged with them). Throws InputError for an unknown key or bad value,
  // or what a target throws, after rolling back.
  RuntimeConfigScope(const std::vector<SettingsTarget*>& targets,
                     const SettingOverrides& overrides);
  RuntimeConfigScope(const std::vector<SettingsTarget*>& targets, const SettingsPatch& patch);
  RuntimeConfigScope(RuntimeConfigScope&& other) noexcept
      : snapshots_(std::exchange(other.snapshots_, {})) {}
  RuntimeConfigScope& operator=(RuntimeConfigScope&& other) noexcept {
    if (this != &other) {
      restore();
      snapshots_ = std::exchange(other.snapshots_, {});
    }
    return *this;
  }
  RuntimeConfigScope(const RuntimeConfigScope&) = delete;
  RuntimeConfigScope& operator=(const RuntimeConfigScope&) = delete;

  // Restores the snapshots; never throws (a failure is logged to stderr).
  ~RuntimeConfigScope() { restore(); }

  // Ends the scope early; later calls and the destructor do nothing.
  void restore() noexcept;

  std::size_t size() const { return snapshots_.size(); }

 private:
  std::vector<std::pair<SettingsTarget*, RuntimeSettings>> snapshots_;
};

}  // namespace rtscope
