#include "rtscope/runtime_config.hpp"

#include <cstdio>
#include <exception>

namespace rtscope {

RuntimeConfigScope::RuntimeConfigScope(const std::vector<SettingsTarget*>& targets,
                                       const SettingOverrides& overrides)
    : RuntimeConfigScope(targets, SettingsPatch::parse(overrides)) {}

RuntimeConfigScope::RuntimeConfigScope(const std::vector<SettingsTarget*>& targets,
                                       const SettingsPatch& patch) {
  snapshots_.reserve(targets.size());
  try {
    for (SettingsTarget* target : targets) {
      RuntimeSettings before = target->runtime_settings();
      target->set_runtime_settings(patch.apply(before));
      snapshots_.emplace_back(target, std::move(before));
    }
  } catch (...) {
    restore();
    throw;
  }
}

void RuntimeConfigScope::restore() noexcept {
  // Reverse order, so a target listed twice ends with its first snapshot.
  while (!snapshots_.empty()) {
    auto [target, settings] = std::move(snapshots_.back());
    snapshots_.pop_back();
    try {
      target->set_runtime_settings(settings);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rtscope: warning: restoring the runtime settings of '%s' failed: %s\n",
                   target->settings_target_name().c_str(), e.what());
    }
  }
}

}  // namespace rtscope
