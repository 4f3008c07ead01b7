// `rtscope-run --list-devices`: every plugin with its devices and their
// fingerprints (the keys runtime-cache entries are stored under).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "rtscope/plugin.hpp"
#include "run_config.hpp"

namespace rtscope::runner {

struct PluginDevices {
  std::string label;  // plugin id once loaded, else the name or file asked for
  std::filesystem::path path;
  std::string version;
  std::vector<DeviceInfo> devices;
  std::string error;  // why it did not load; empty on success
};

// With a config: its plugins and every model's backends. Without: every
// librtscope_plugin_*.so in the plugin search path (the first file of each
// name, as loading by name would pick it). A plugin that fails to load is
// listed with its error instead of stopping the listing.
std::vector<PluginDevices> list_devices(const RunConfig* config);

std::string device_kind_name(rts_device_kind kind);

// One row per device: plugin, index, kind, name, memory, fingerprint.
std::string format_devices(const std::vector<PluginDevices>& plugins);

}  // namespace rtscope::runner
