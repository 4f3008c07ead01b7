// The scopes of the C++ API, in one header: runtime_config, graph_capture and
// runtime_cache. Each is an RAII object over modules and models that changes
// their RuntimeSettings on entry and restores them on exit.
//
//   {
//     auto config = rtscope::runtime_config(model, {{"kernel_specialization", "eager"}});
//     auto capture = rtscope::graph_capture(model);   // record on the first run, replay after
//     auto cache = rtscope::runtime_cache(model, "/var/cache/app/rt.cache");
//     model.run(inputs);                               // exactly one context per module
//   }                                                  // cache saved, settings restored
//
// A target is a Module, a Model (every module under it) or a braced list of
// them: runtime_config({model_a, module_b}, ...). Scopes nest LIFO and
// restore each module's exact previous settings on exit.
//
// Concurrency: a scope may be entered or left on any thread while another
// thread executes. An execute already in flight keeps its context and
// finishes with the settings it started with; the change applies to the
// next execute (see module.hpp).
//
// The settings library underneath (rtscope/runtime_config.hpp) holds the
// target-agnostic RuntimeConfigScope; this header adds the targets.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/module.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/runtime_config.hpp"

namespace rtscope {

// The modules a scope acts on.
class ScopeTarget {
 public:
  ScopeTarget(Module& module) : modules_{&module} {}  // NOLINT: implicit by design
  ScopeTarget(Model& model) {                         // NOLINT
    for (Module* m : model.modules()) modules_.push_back(m);
  }
  ScopeTarget(std::initializer_list<ScopeTarget> targets) {
    for (const auto& t : targets)
      modules_.insert(modules_.end(), t.modules_.begin(), t.modules_.end());
  }
  ScopeTarget(const std::vector<Module*>& modules)
      : modules_(modules.begin(), modules.end()) {}  // NOLINT

  const std::vector<SettingsTarget*>& modules() const { return modules_; }

 private:
  std::vector<SettingsTarget*> modules_;
};

// --- runtime_config --------------------------------------------------------

// Merges `overrides` into every module's current settings. Applying is
// all-or-nothing: a bad key or value, or a plugin rejecting the settings,
// restores the modules already changed and throws.
[[nodiscard]] inline RuntimeConfigScope runtime_config(const ScopeTarget& target,
                                                       const SettingOverrides& overrides) {
  return RuntimeConfigScope(target.modules(), overrides);
}

// --- graph_capture ---------------------------------------------------------

// Sets the capture strategy before any context exists: the first execute in
// the scope records the whole engine, later ones replay it; an input shape
// change re-records. Leaving the scope restores the previous strategy and
// frees the capture with its context.
[[nodiscard]] inline RuntimeConfigScope graph_capture(
    const ScopeTarget& target, GraphCapture strategy = GraphCapture::whole_graph) {
  return RuntimeConfigScope(target.modules(),
                            {{"graph_capture", std::string(to_string(strategy))}});
}

// --- runtime_cache ---------------------------------------------------------
//
// Gives every module under a target one shared RuntimeCache, loaded on entry
// and saved on exit.
//
//   {
//     auto cache = rtscope::runtime_cache({decoder, encoder}, "/var/cache/app/rt.cache");
//     decoder.run(inputs);     // kernels compiled by either model land in one cache
//   }                          // saved once here (merged with the file on disk)
//
// Sources: a file path (merged with what other processes saved, file-locked,
// crash-safe), a std::iostream (read from its current position on entry,
// rewritten from position 0 on exit), or in memory only (nothing is written).
//
// Exit order: the previous settings are restored first (so no new execute
// can reach the cache), then the scope waits for executes in flight, then it
// saves (RuntimeCache::try_save_final: it waits longer for other writers). A
// save failure on exit is logged as a warning and never masks an
// exception leaving the body; call save() to get the error as an exception.

// Selects an in-memory cache that is never persisted.
struct InMemoryCache {};

class [[nodiscard]] RuntimeCacheScope {
 public:
  // Throws InputError for an empty target.
  RuntimeCacheScope(const ScopeTarget& target, const std::filesystem::path& path);
  // A file cache with `options`, e.g. a remote tier behind the file:
  // {.remote = "redis://cache.internal:6379/prod"}. Throws InputError for a
  // malformed remote URL.
  RuntimeCacheScope(const ScopeTarget& target, const std::filesystem::path& path,
                    RuntimeCache::Options options);
  RuntimeCacheScope(const ScopeTarget& target, std::iostream& stream);
  RuntimeCacheScope(const ScopeTarget& target, InMemoryCache);
  RuntimeCacheScope(RuntimeCacheScope&&) noexcept;
  RuntimeCacheScope& operator=(RuntimeCacheScope&&) = delete;
  RuntimeCacheScope(const RuntimeCacheScope&) = delete;
  RuntimeCacheScope& operator=(const RuntimeCacheScope&) = delete;
  ~RuntimeCacheScope();

  const std::shared_ptr<RuntimeCache>& cache() const { return cache_; }
  // Bytes read from the source on entry.
  uint64_t loaded_bytes() const { return loaded_bytes_; }

  // Saves now; throws rtscope::Error on failure. Returns bytes written (0
  // for an in-memory cache). The scope still saves again on exit.
  uint64_t save();

 private:
  RuntimeCacheScope(const ScopeTarget& target, std::optional<std::filesystem::path> path,
                    std::iostream* stream, std::shared_ptr<RuntimeCache> cache = nullptr);

  std::vector<SettingsTarget*> modules_;
  std::shared_ptr<RuntimeCache> cache_;
  std::optional<std::filesystem::path> path_;
  std::iostream* stream_ = nullptr;
  uint64_t loaded_bytes_ = 0;
  std::optional<RuntimeConfigScope> attach_;
};

[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target,
                                                     const std::filesystem::path& path) {
  return RuntimeCacheScope(target, path);
}
// With a remote tier (or other options):
//   auto cache = rtscope::runtime_cache(model, "rt.cache", {.remote = "redis://host:6379/prod"});
[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target,
                                                     const std::filesystem::path& path,
                                                     RuntimeCache::Options options) {
  return RuntimeCacheScope(target, path, std::move(options));
}
[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target, const char* path) {
  return RuntimeCacheScope(target, std::filesystem::path(path));
}
[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target,
                                                     std::iostream& stream) {
  return RuntimeCacheScope(target, stream);
}
[[nodiscard]] inline RuntimeCacheScope runtime_cache(const ScopeTarget& target,
                                                     InMemoryCache in_memory = {}) {
  return RuntimeCacheScope(target, in_memory);
}

}  // namespace rtscope
