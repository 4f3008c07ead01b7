// ExecutionContext: the plugin's per-settings execution state of an engine.
// Created lazily by Module on the first execute after a settings change;
// shared only while an execute is in flight, so a settings change never
// frees a context that is running.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine.hpp"
#include "host_callbacks.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/runtime_settings.hpp"

namespace rtscope {

// The ABI form of `settings`; `cache` may be null.
rts_runtime_settings to_abi_settings(const RuntimeSettings& settings, const rts_cache_store* cache);

class ExecutionContext {
 public:
  // `cache` may be null (no runtime cache). Calls the plugin's
  // create_context; throws PluginError on failure.
  ExecutionContext(std::shared_ptr<Engine> engine, const RuntimeSettings& settings,
                   std::shared_ptr<RuntimeCache> cache);
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;

  // Not thread-safe: the ABI requires executes of one context to be
  // externally synchronized, and its Module hands it to one execute at a
  // time.
  void execute(const rts_execute_args& args, const std::string& module_name);

  std::map<std::string, uint64_t> counters() const;
  const RuntimeSettings& settings() const { return settings_; }

 private:
  std::shared_ptr<Engine> engine_;
  RuntimeSettings settings_;
  std::shared_ptr<RuntimeCache> cache_;
  // Destroyed after the context (declared first): the plugin may use it
  // until destroy_context returns.
  std::unique_ptr<host_callbacks::CacheStore> cache_store_;
  rts_context* handle_ = nullptr;
  // "execute of module 'm'" for error messages, built on the first execute
  // (a context runs for one module) so that a step builds no string.
  std::string execute_what_;
};

}  // namespace rtscope
