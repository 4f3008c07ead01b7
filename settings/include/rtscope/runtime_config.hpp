// RuntimeConfigScope: the settings-level mechanism under the runtime_config
// and graph_capture scopes. It applies setting overrides to a set of
// SettingsTargets and restores each target's exact previous settings when it
// ends. Applications use the scopes in rtscope/scopes.hpp, which take a
// Module, a Model or lists of them and present runtime_config, graph_capture
// and runtime_cache together; this header stays in the settings library,
// which knows no modules.
//
// Scopes nest LIFO. Applying is all-or-nothing: if any target rejects the
// new settings, the targets already changed are restored before the error
// propagates.
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
