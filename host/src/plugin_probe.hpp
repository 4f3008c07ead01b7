// Probing a plugin in a child process (rtscope-probe) before loading it into
// the host, for optional plugins and device listings: a plugin that crashes
// or hangs in init is then dropped with a clear reason instead of taking
// the host down. Outcomes are cached by file identity (path, device and
// inode, size, mtime), as GStreamer's registry does, so a plugin is probed
// once per build of it.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace rtscope {

struct ProbeVerdict {
  // False when the probe crashed or hung: the plugin must not be loaded.
  bool safe = true;
  std::string reason;  // why not safe, naming the plugin file
};

// Probes `plugin` unless the cache at `cache_file` has a verdict for this
// exact file. The probe's own errors (a plugin that refuses to load) count
// as safe: loading in-process then reports them precisely. Without a probe
// binary the plugin is taken as safe (logged). An unreadable or corrupt
// cache is ignored and rewritten.
ProbeVerdict probe_plugin(const std::filesystem::path& plugin, const std::filesystem::path& probe,
                          const std::filesystem::path& cache_file, std::chrono::milliseconds limit);

// $RTSCOPE_PLUGIN_PROBE_TIMEOUT (seconds) or 20 s.
std::chrono::milliseconds probe_time_limit();

// $XDG_CACHE_HOME/rtscope/plugin-probe.json, else
// ~/.cache/rtscope/plugin-probe.json; empty when neither is set.
std::filesystem::path probe_cache_file();

}  // namespace rtscope
