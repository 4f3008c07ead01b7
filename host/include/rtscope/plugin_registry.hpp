// PluginRegistry: finds, loads and initializes backend plugins.
//
// Search order for a plugin named N (file librtscope_plugin_N.so), logged at
// debug level: explicit path (made absolute) -> each dir of
// $RTSCOPE_PLUGIN_PATH -> the default dirs: <libdir>/rtscope/plugins next to
// the loaded librtscope_host.so, or, when that library is the build tree's
// own, the build tree's plugin dir and the configured install dir. Libraries are opened with
// RTLD_NOW | RTLD_LOCAL, after checking the required slots are set. A plugin that fails is reported
// (path, dlerror text, reason) and never stops the others from loading.
#pragma once

#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rtscope/plugin.hpp"

namespace rtscope {

struct PluginSpec {
  std::string name = {};            // searched for as librtscope_plugin_<name>.so
  std::filesystem::path path = {};  // explicit file; wins over name
  bool optional = false;            // failure is a warning, not an error
  // Probe in a child process before loading (always done for optional
  // specs): a plugin that crashes or hangs in init is refused with the
  // reason instead of taking this process down.
  bool probe = false;
  std::string label() const;  // name or path, for messages
};

struct PluginLoadFailure {
  PluginSpec spec;
  std::string message;  // full reason, already naming path and cause
};

class PluginRegistry {
 public:
  struct Options {
    // Directories searched after $RTSCOPE_PLUGIN_PATH, before the default
    // dir (see default_dirs).
    std::vector<std::filesystem::path> extra_dirs;
    bool use_default_dirs = true;
  };

  PluginRegistry();
  explicit PluginRegistry(Options options);
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Loads one plugin; throws PluginError with the full reason. Loading a
  // plugin whose id is already loaded returns the loaded one.
  std::shared_ptr<Plugin> load(const PluginSpec& spec);

  // Loads every spec, in order. Failures are logged and returned; a failure
  // of a non-optional spec is returned too (the caller decides to stop).
  std::vector<PluginLoadFailure> load_all(const std::vector<PluginSpec>& specs);

  // What loading one spec of load_each gave: the plugin, or the error
  // load() would have thrown; and how long that took.
  struct LoadOutcome {
    std::shared_ptr<Plugin> plugin;
    std::exception_ptr error;
    double ms = 0;
  };
  // Loads every spec, `concurrently` each on its own thread (one plugin's
  // start-up, a GPU driver's mostly, then overlaps the others') or in turn.
  // The plugins are registered in the specs' order, whatever order they
  // finish in; one outcome per spec, in that order. Nothing is thrown.
  std::vector<LoadOutcome> load_each(const std::vector<PluginSpec>& specs, bool concurrently);

  // Throws PluginError listing the loaded ids when absent.
  std::shared_ptr<Plugin> get(const std::string& id) const;
  std::shared_ptr<Plugin> find(const std::string& id) const;  // nullptr when absent
  std::vector<std::shared_ptr<Plugin>> plugins() const;

  // The rtscope-probe program a host library at `host_library` runs: the
  // build tree's when it is the build tree's library, else
  // <its dir>/rtscope/rtscope-probe.
  static std::filesystem::path probe_program(const std::filesystem::path& host_library);

  // Directories searched for a plugin name, in order.
  std::vector<std::filesystem::path> search_dirs() const;
  // The default directories for a host library at `host_library`: the build
  // tree's plugin dir then the configured install dir when it is the build
  // tree's library, else only <its dir>/rtscope/plugins (never the build
  // tree). Empty path: the configured install dir.
  static std::vector<std::filesystem::path> default_dirs(const std::filesystem::path& host_library);
  // Resolves a spec to a file; throws PluginError listing every directory
  // searched.
  std::filesystem::path resolve(const PluginSpec& spec) const;

 private:
  // load() in two halves: opening and initializing the library (safe to run
  // on several threads at once), then registering it (the loaded plugin of
  // the same id when there is one).
  std::shared_ptr<Plugin> open(const PluginSpec& spec);
  std::shared_ptr<Plugin> adopt(std::shared_ptr<Plugin> plugin);

  Options options_;
  mutable std::mutex mutex_;  // guards plugins_
  std::vector<std::shared_ptr<Plugin>> plugins_;
};

}  // namespace rtscope
