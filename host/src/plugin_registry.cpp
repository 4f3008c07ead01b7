#include "rtscope/plugin_registry.hpp"

#include <dlfcn.h>

#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <sstream>

#include "plugin_library.hpp"
#include "plugin_probe.hpp"
#include "rtscope/error.hpp"
#include "rtscope/log.hpp"
#include "rtscope/trace.hpp"

namespace rtscope {
namespace fs = std::filesystem;
namespace {

std::string plugin_file_name(const std::string& name) {
  return "librtscope_plugin_" + name + ".so";
}

std::vector<fs::path> split_path_list(const char* value) {
  std::vector<fs::path> dirs;
  if (!value) return dirs;
  std::stringstream stream(value);
  std::string item;
  while (std::getline(stream, item, ':')) {
    if (!item.empty()) dirs.emplace_back(item);
  }
  return dirs;
}

// Boost.DLL resets dlerror() before reporting a failed open, so the real
// reason (missing dependency, undefined symbol, bad ELF) would be lost. Open
// once with plain dlopen under the same flags to capture it. The handle is
// held until Boost.DLL has its own reference: releasing it first would
// unload the library and everything it pulled in (a BLAS starts its
// threads when loaded), and the second open would load them all again.
class RawHandle {
 public:
  explicit RawHandle(const fs::path& path) {
    dlerror();
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* text = dlerror();
      failure_ = text ? text : "dlopen failed without a message";
    }
  }
  ~RawHandle() {
    if (handle_) dlclose(handle_);
  }
  RawHandle(const RawHandle&) = delete;
  RawHandle& operator=(const RawHandle&) = delete;

  // Empty when the open succeeded.
  const std::string& failure() const { return failure_; }

 private:
  void* handle_ = nullptr;
  std::string failure_;
};

// Required slots (RTS_REQUIRED_SLOTS of plugin_abi.h) the table leaves NULL
// or too short to hold, quoted and comma-separated; empty when all are set.
// Checked at load so that a NULL slot is an error naming it, never a call
// through a null pointer later.
std::string missing_required_slots(const rts_plugin_api& api) {
  std::string missing;
#define RTSCOPE_CHECK_REQUIRED_SLOT(slot)                                \
  if (!RTS_HAS_FIELD(&api, rts_plugin_api, slot) || api.slot == nullptr) \
    missing += std::string(missing.empty() ? "" : ", ") + "'" #slot "'";
  RTS_REQUIRED_SLOTS(RTSCOPE_CHECK_REQUIRED_SLOT)
#undef RTSCOPE_CHECK_REQUIRED_SLOT
  return missing;
}

// The loaded librtscope_host.so (this library), found from the address of
// one of its own functions.
fs::path this_library_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&split_path_list), &info) == 0 || !info.dli_fname) {
    return {};
  }
  return info.dli_fname;
}

bool same_directory(const fs::path& a, const fs::path& b) {
  std::error_code error;
  return fs::equivalent(a, b, error);
}

// A plugin at our minor or newer must provide at least our whole table; an
// older one may stop early, and slots past its end are never called.
bool table_too_small(const rts_plugin_api& api, uint32_t host_minor) {
  return api.abi_minor >= host_minor && api.struct_size < sizeof(rts_plugin_api);
}

}  // namespace

std::string PluginSpec::label() const { return path.empty() ? name : path.string(); }

PluginRegistry::PluginRegistry() : PluginRegistry(Options{}) {}
PluginRegistry::PluginRegistry(Options options) : options_(std::move(options)) {}

PluginRegistry::~PluginRegistry() = default;

std::vector<fs::path> PluginRegistry::search_dirs() const {
  std::vector<fs::path> dirs = split_path_list(std::getenv("RTSCOPE_PLUGIN_PATH"));
  for (const auto& dir : options_.extra_dirs) dirs.push_back(dir);
  if (options_.use_default_dirs) {
    for (auto& dir : default_dirs(this_library_path())) dirs.push_back(std::move(dir));
  }
  return dirs;
}

std::vector<fs::path> PluginRegistry::default_dirs(const fs::path& host_library) {
  if (host_library.empty()) return {RTSCOPE_PLUGIN_INSTALL_DIR};
  const fs::path library_dir = fs::absolute(host_library).parent_path();
  // Only the build tree's own host library searches the build tree: an
  // installed copy must never pick up plugins of the tree it was built in.
  if (same_directory(library_dir, RTSCOPE_HOST_BUILD_DIR)) {
    return {RTSCOPE_PLUGIN_BUILD_DIR, RTSCOPE_PLUGIN_INSTALL_DIR};
  }
  return {library_dir / "rtscope" / "plugins"};
}

fs::path PluginRegistry::probe_program(const fs::path& host_library) {
  if (host_library.empty()) return {};
  const fs::path library_dir = fs::absolute(host_library).parent_path();
  if (same_directory(library_dir, RTSCOPE_HOST_BUILD_DIR)) return RTSCOPE_PROBE_BUILD_PATH;
  return library_dir / "rtscope" / "rtscope-probe";
}

fs::path PluginRegistry::resolve(const PluginSpec& spec) const {
  if (!spec.path.empty()) {
    log().debug("plugin '{}': explicit path {}", spec.label(), spec.path.string());
    if (!fs::exists(spec.path)) {
      throw PluginError("plugin file not found: " + spec.path.string());
    }
    // dlopen treats a name without a slash as a library to look up in the
    // system search path, not as a file here: hand it the file just checked.
    return fs::absolute(spec.path).lexically_normal();
  }
  if (spec.name.empty()) throw PluginError("plugin spec has neither a name nor a path");
  const std::string file = plugin_file_name(spec.name);
  std::string searched;
  for (const auto& dir : search_dirs()) {
    // The build tree keeps each plugin in its own folder.
    for (const fs::path& candidate : {dir / file, dir / spec.name / file}) {
      log().debug("plugin '{}': trying {}", spec.name, candidate.string());
      if (fs::exists(candidate)) return candidate;
    }
    searched += "\n  " + dir.string();
  }
  throw PluginError(
      "plugin '" + spec.name + "' not found: no " + file +
      " in any searched directory (set RTSCOPE_PLUGIN_PATH or give a path):" + searched);
}

std::shared_ptr<Plugin> PluginRegistry::load(const PluginSpec& spec) { return adopt(open(spec)); }

std::shared_ptr<Plugin> PluginRegistry::open(const PluginSpec& spec) {
  const fs::path path = resolve(spec);
  trace::Span span("plugin", "load plugin " + path.filename().string());
  span.arg("path", path.string());
  if (spec.optional || spec.probe) {
    const ProbeVerdict verdict = probe_plugin(path, probe_program(this_library_path()),
                                              probe_cache_file(), probe_time_limit());
    if (!verdict.safe) throw PluginError(verdict.reason);
  }
  const RawHandle first_open(path);
  if (!first_open.failure().empty()) {
    throw PluginError("cannot load plugin " + path.string() + ": " + first_open.failure());
  }
  auto library = std::make_unique<Plugin::Library>();
  try {
    library->library.load(path,
                          boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw PluginError("cannot load plugin " + path.string() + ": " + e.what());
  }
  if (!library->library.has(RTS_PLUGIN_ENTRY_SYMBOL)) {
    throw PluginError("plugin " + path.string() + " does not export the entry symbol '" +
                      RTS_PLUGIN_ENTRY_SYMBOL + "'; is it an rtscope plugin?");
  }
  auto entry = library->library.get<const rts_plugin_api*()>(RTS_PLUGIN_ENTRY_SYMBOL);
  const rts_plugin_api* api = entry();
  if (!api) throw PluginError("plugin " + path.string() + ": entry returned no function table");
  if (api->abi_major != RTS_ABI_VERSION_MAJOR) {
    throw PluginError("plugin " + path.string() + " was built for ABI " +
                      std::to_string(api->abi_major) + "." + std::to_string(api->abi_minor) +
                      " but this host speaks ABI " + std::to_string(RTS_ABI_VERSION_MAJOR) + "." +
                      std::to_string(RTS_ABI_VERSION_MINOR) +
                      " (major versions must match); rebuild the plugin against this rtscope");
  }
  if (table_too_small(*api, RTS_ABI_VERSION_MINOR)) {
    throw PluginError("plugin " + path.string() + ": function table is " +
                      std::to_string(api->struct_size) + " bytes, smaller than ABI " +
                      std::to_string(RTS_ABI_VERSION_MAJOR) + "." + std::to_string(api->abi_minor) +
                      " requires");
  }
  if (const std::string missing = missing_required_slots(*api); !missing.empty()) {
    throw PluginError("plugin " + path.string() + ": required slot" +
                      (missing.find(',') == std::string::npos ? " " : "s ") + missing +
                      " left NULL; every slot in RTS_REQUIRED_SLOTS (plugin_abi.h) must be set "
                      "(return RTS_ERROR_UNSUPPORTED for what the plugin does not do)");
  }
  const std::string id = api->id ? api->id : "";
  if (id.empty()) throw PluginError("plugin " + path.string() + " has an empty id");
  if (auto loaded = find(id)) {
    log().debug("plugin '{}' already loaded from {}", id, loaded->path().string());
    return loaded;
  }
  auto plugin = std::make_shared<Plugin>(std::move(library), api, path);
  plugin->initialize();
  log().debug("loaded plugin '{}' {} from {} (ABI {}.{}, {} device(s))", plugin->id(),
              plugin->version(), path.string(), plugin->abi_major(), plugin->abi_minor(),
              plugin->devices().size());
  return plugin;
}

std::shared_ptr<Plugin> PluginRegistry::adopt(std::shared_ptr<Plugin> plugin) {
  std::lock_guard lock(mutex_);
  for (const auto& loaded : plugins_) {
    // Two specs naming one plugin that were opened at the same time.
    if (loaded->id() == plugin->id()) return loaded;
  }
  plugins_.push_back(plugin);
  return plugin;
}

std::vector<PluginRegistry::LoadOutcome> PluginRegistry::load_each(
    const std::vector<PluginSpec>& specs, bool concurrently) {
  const auto open_one = [this](const PluginSpec& spec) {
    LoadOutcome outcome;
    const auto start = std::chrono::steady_clock::now();
    try {
      outcome.plugin = open(spec);
    } catch (...) {
      outcome.error = std::current_exception();
    }
    outcome.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return outcome;
  };
  std::vector<LoadOutcome> outcomes;
  if (!concurrently) {
    // Each registered before the next opens, as load() in turn.
    for (const PluginSpec& spec : specs) {
      outcomes.push_back(open_one(spec));
      if (outcomes.back().plugin) outcomes.back().plugin = adopt(outcomes.back().plugin);
    }
    return outcomes;
  }
  std::vector<std::future<LoadOutcome>> pending;
  for (std::size_t i = 1; i < specs.size(); ++i) {
    pending.push_back(std::async(std::launch::async, open_one, std::cref(specs[i])));
  }
  if (!specs.empty()) outcomes.push_back(open_one(specs.front()));  // on this thread
  for (auto& outcome : pending) outcomes.push_back(outcome.get());
  for (LoadOutcome& outcome : outcomes) {
    if (outcome.plugin) outcome.plugin = adopt(std::move(outcome.plugin));
  }
  return outcomes;
}

std::vector<PluginLoadFailure> PluginRegistry::load_all(const std::vector<PluginSpec>& specs) {
  std::vector<PluginLoadFailure> failures;
  for (const auto& spec : specs) {
    try {
      load(spec);
    } catch (const Error& e) {
      if (spec.optional) {
        log().warn("optional plugin '{}' skipped: {}", spec.label(), e.what());
      } else {
        log().error("{}", e.what());
      }
      failures.push_back({spec, e.what()});
    }
  }
  return failures;
}

std::shared_ptr<Plugin> PluginRegistry::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (const auto& plugin : plugins_) {
    if (plugin->id() == id) return plugin;
  }
  return nullptr;
}

std::shared_ptr<Plugin> PluginRegistry::get(const std::string& id) const {
  if (auto plugin = find(id)) return plugin;
  std::string loaded;
  for (const auto& plugin : plugins()) loaded += (loaded.empty() ? "" : ", ") + plugin->id();
  throw PluginError("no plugin '" + id +
                    "' loaded; loaded plugins: " + (loaded.empty() ? "(none)" : loaded));
}

std::vector<std::shared_ptr<Plugin>> PluginRegistry::plugins() const {
  std::lock_guard lock(mutex_);
  return plugins_;
}

}  // namespace rtscope
