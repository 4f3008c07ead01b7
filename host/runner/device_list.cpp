#include "device_list.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "rtscope/plugin_registry.hpp"

namespace rtscope::runner {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPluginPrefix = "librtscope_plugin_";
constexpr std::string_view kPluginSuffix = ".so";

bool is_plugin_file(const fs::path& path) {
  const std::string file = path.filename().string();
  return file.size() > kPluginPrefix.size() + kPluginSuffix.size() &&
         file.starts_with(kPluginPrefix) && file.ends_with(kPluginSuffix);
}

// Names (librtscope_plugin_<name>.so) in search order, first file wins.
std::vector<PluginSpec> discover(const PluginRegistry& registry) {
  std::vector<PluginSpec> specs;
  std::set<std::string> seen;
  for (const fs::path& dir : registry.search_dirs()) {
    std::vector<fs::path> files;
    // Like PluginRegistry::resolve: DIR/FILE, or DIR/<name>/FILE as in the
    // build tree.
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
      if (is_plugin_file(entry.path())) files.push_back(entry.path());
      if (!entry.is_directory(error)) continue;
      for (const fs::directory_entry& inner : fs::directory_iterator(entry.path(), error)) {
        if (is_plugin_file(inner.path())) files.push_back(inner.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      const std::string name = file.filename().string();
      const std::string id = name.substr(kPluginPrefix.size(),
                                         name.size() - kPluginPrefix.size() - kPluginSuffix.size());
      if (seen.insert(id).second) specs.push_back({.name = {}, .path = file});
    }
  }
  return specs;
}

std::vector<PluginSpec> configured(const RunConfig& config) {
  std::vector<PluginSpec> specs;
  for (const PluginConfig& plugin : config.plugins) {
    PluginSpec spec;
    spec.name = plugin.name;
    if (!plugin.path.empty()) spec.path = resolve_config_path(plugin.path, config.file);
    specs.push_back(spec);
  }
  for (const ModelConfig& model : config.models) {
    for (const std::string& backend : model.backends) {
      const bool listed = std::any_of(specs.begin(), specs.end(),
                                      [&](const PluginSpec& s) { return s.name == backend; });
      if (!listed) specs.push_back({.name = backend});
    }
  }
  return specs;
}

std::string format_bytes(uint64_t bytes) {
  if (bytes == 0) return "-";
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / kGiB);
}

}  // namespace

std::string device_kind_name(rts_device_kind kind) {
  switch (kind) {
    case RTS_DEVICE_CPU:
      return "cpu";
    case RTS_DEVICE_GPU:
      return "gpu";
    case RTS_DEVICE_VIRTUAL:
      return "virtual";
  }
  return fmt::format("kind {}", static_cast<int>(kind));
}

std::vector<PluginDevices> list_devices(const RunConfig* config) {
  // Plugins stay loaded until the registry goes; everything listed is
  // copied out first.
  PluginRegistry registry;
  const std::vector<PluginSpec> specs = config ? configured(*config) : discover(registry);
  std::vector<PluginDevices> result;
  std::set<std::string> listed_ids;
  for (PluginSpec spec : specs) {
    // A backend named by id that a configured path already loaded is that
    // plugin, not another one to find on the search path.
    if (spec.path.empty() && listed_ids.count(spec.name)) continue;
    // Listing is where broken plugins are found: one that crashes or hangs
    // in init is reported, not allowed to stop the listing.
    spec.probe = true;
    PluginDevices entry;
    entry.label = spec.label();
    try {
      entry.path = registry.resolve(spec);
      const std::shared_ptr<Plugin> plugin = registry.load(spec);
      if (!listed_ids.insert(plugin->id()).second) continue;  // same plugin twice
      entry.label = plugin->id();
      entry.version = plugin->version();
      entry.devices = plugin->devices();
    } catch (const std::exception& e) {
      entry.error = e.what();
    }
    result.push_back(std::move(entry));
  }
  return result;
}

std::string format_devices(const std::vector<PluginDevices>& plugins) {
  if (plugins.empty()) return "no plugins found; set RTSCOPE_PLUGIN_PATH or pass a config\n";
  std::size_t plugin_width = 6;
  std::size_t name_width = 4;
  for (const PluginDevices& plugin : plugins) {
    plugin_width = std::max(plugin_width, plugin.label.size());
    for (const DeviceInfo& device : plugin.devices) {
      name_width = std::max(name_width, device.name.size());
    }
  }
  std::string text =
      fmt::format("{:<{}}  {:>6}  {:<7}  {:<{}}  {:>9}  {}\n", "plugin", plugin_width, "device",
                  "kind", "name", name_width, "memory", "fingerprint");
  for (const PluginDevices& plugin : plugins) {
    if (!plugin.error.empty()) {
      text += fmt::format("{:<{}}  not loaded: {}\n", plugin.label, plugin_width, plugin.error);
      continue;
    }
    if (plugin.devices.empty()) {
      text += fmt::format("{:<{}}  (no devices)\n", plugin.label, plugin_width);
    }
    for (std::size_t i = 0; i < plugin.devices.size(); ++i) {
      const DeviceInfo& device = plugin.devices[i];
      text += fmt::format("{:<{}}  {:>6}  {:<7}  {:<{}}  {:>9}  {}\n", plugin.label, plugin_width,
                          i, device_kind_name(device.kind), device.name, name_width,
                          format_bytes(device.memory_bytes), device.fingerprint);
    }
  }
  return text;
}

}  // namespace rtscope::runner
