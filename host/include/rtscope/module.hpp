// Module: one engine on one plugin device, its RuntimeSettings and a lazily
// created execution context.
//
// Concurrency contract:
//  - execute() may be called from any thread. An execute in flight holds a
//    shared reference to its context, so a settings change made meanwhile
//    never frees it; the change applies to the next execute.
//  - Nothing creates a context before the first execute. A settings change
//    only drops the current context; identical settings change nothing.
//  - Executes of one module are serialized: one at a time holds the
//    module's context. Taking and giving it back is one atomic
//    compare-exchange each when nothing else is going on (no other execute
//    waiting, no settings change, no wait_idle); anything else takes the
//    module's mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "rtscope/compile_options.hpp"
#include "rtscope/plugin.hpp"
#include "rtscope/runtime_settings.hpp"
#include "rtscope/settings_target.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope {

class Engine;
class ExecutionContext;
class PluginRegistry;
class RuntimeCache;

// A binding of an engine (input or output).
struct BindingInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> dims;  // -1 = dynamic
  std::vector<int64_t> min_dims;
  std::vector<int64_t> max_dims;
};

struct AliasInfo {
  uint32_t output = 0;
  uint32_t input = 0;
  rts_alias_kind kind = RTS_ALIAS_KV_CACHE_UPDATE;
};

struct ModuleStats {
  uint64_t contexts_created = 0;
  uint64_t executes = 0;
  // Bytes of bound tensors that lived on another device (or on a device
  // while this plugin offers no device memory) and were copied through the
  // host for an execute, written-back aliased outputs included.
  uint64_t staged_bytes = 0;
  // Counters the plugin reports for the current context (kernels run,
  // replays, ...); empty before the first execute.
  std::map<std::string, uint64_t> plugin_counters;
};

class Module : public SettingsTarget {
 public:
  Module(std::string name, std::shared_ptr<Engine> engine, CompileOptions options = {});
  ~Module() override;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& name() const { return name_; }
  const Plugin& plugin() const;
  uint32_t device() const;
  // Memory of this module's device, or null when its plugin keeps tensors
  // on the host. Tensors on it bind in place (zero-copy).
  const std::shared_ptr<const DeviceMemory>& device_memory() const { return device_memory_; }
  const std::vector<BindingInfo>& inputs() const;
  const std::vector<BindingInfo>& outputs() const;
  const std::vector<AliasInfo>& aliases() const;
  // The options of the model this module was compiled for (saved in its
  // engine file).
  const CompileOptions& compile_options() const { return compile_options_; }

  const std::string& settings_target_name() const override { return name_; }
  RuntimeSettings runtime_settings() const override;
  // Thread-safe. Drops the context when settings differ; the next execute
  // creates a new one. Throws PluginError, changing nothing, when the
  // plugin rejects the settings.
  void set_runtime_settings(const RuntimeSettings& settings) override;

  // Runs the engine. `inputs` in engine input order. `outputs` may hold
  // preallocated tensors (same order; undefined entries are allocated);
  // an aliased output is bound to its input's storage. Returns outputs in
  // engine order. Throws InputError on a binding mismatch (naming the
  // module and binding), PluginError on a plugin failure.
  std::vector<Tensor> execute(const std::vector<Tensor>& inputs, std::vector<Tensor> outputs = {});
  // The same into `outputs` (one slot per engine output) in place: the hot
  // path of a caller that keeps its bindings between calls, since with
  // every output preallocated in the right shape the host allocates
  // nothing per call.
  void execute_into(std::span<const Tensor> inputs, std::span<Tensor> outputs);
  // The binding check execute_into makes for input `index` (engine order):
  // bound, dtype, rank and each dim within its range. Throws InputError
  // naming the module and binding.
  void check_input(std::size_t index, const Tensor& tensor) const;

  ModuleStats stats() const;

  // Blocks until no execute of this module is in flight.
  void wait_idle() const;

  // The runtime cache the next context will use: the shared cache of the
  // settings, the implicit cache of a `runtime_cache` path (loaded when the
  // path is set, saved when the path changes and when the module is
  // destroyed), or null.
  std::shared_ptr<RuntimeCache> runtime_cache() const;

  // Engine file: host header (magic, format and ABI versions, plugin id and
  // version, device fingerprint, bindings, alias map, output-allocation
  // flag) then the plugin's blob.
  void save(std::ostream& out) const;
  void save(const std::string& path) const;
  // Checks every header field against the loaded plugin; a mismatch names
  // the field, both values and says to rebuild the engine.
  static std::unique_ptr<Module> load(std::istream& in, const std::string& source,
                                      PluginRegistry& registry);
  static std::unique_ptr<Module> load(const std::string& path, PluginRegistry& registry);

 private:
  friend class Model;
  // execute_into for a Model, which checked the graph's inputs once on the
  // way down and passes pointers to where each input lives; nothing here is
  // checked again (the plugin still validates what it is given).
  void execute_unchecked(std::span<const Tensor* const> inputs, std::span<Tensor> outputs);
  // The execute shared by both: `inputs[i]` is the i-th input tensor.
  template <typename Inputs>
  void execute_bound(const Inputs& inputs, std::span<Tensor> outputs);

  // The context for one execute, held exclusively until release_context.
  // Creates it (under the mutex) when there is none. Throws PluginError
  // when the plugin cannot create it.
  ExecutionContext& acquire_context();
  ExecutionContext& acquire_context_slowly();
  void release_context() noexcept;
  void release_context_slowly() noexcept;
  // Under mutex_, with kSlow set and kBusy clear: reopens the fast path
  // when the context is current and nobody waits.
  void reopen_fast_path() const;

  std::string name_;
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<const DeviceMemory> device_memory_;
  CompileOptions compile_options_;
  std::atomic<uint64_t> staged_bytes_{0};
  std::atomic<bool> logged_staging_{false};  // the first staging is logged once

  // Who may touch the context. kBusy: an execute holds it. kSlow: the
  // state may change only under mutex_ (no current context, or someone
  // waits: an execute for the context, wait_idle, or a settings change
  // that must drop the context its holder is running). An execute takes
  // the context with one compare-exchange 0 -> kBusy and gives it back
  // with kBusy -> 0; when either fails, it goes through mutex_. Invariant:
  // the state is 0 only while context_ is current and nobody waits.
  static constexpr uint32_t kBusy = 1;
  static constexpr uint32_t kSlow = 2;
  mutable std::atomic<uint32_t> state_{kSlow};
  // Written only under mutex_ by a thread that holds kBusy or that set
  // kSlow while kBusy was clear; read by the holder of kBusy without the
  // mutex, and by anyone under it.
  std::shared_ptr<ExecutionContext> context_;
  mutable std::mutex mutex_;  // guards settings_, context_stale_, the caches and waiters
  RuntimeSettings settings_;
  // The settings changed while an execute held context_: the holder drops
  // it when it gives it back.
  bool context_stale_ = false;
  uint64_t contexts_created_ = 0;
  // Written by the holder of kBusy only; read anywhere.
  std::atomic<uint64_t> executes_{0};
  // Executes waiting for the context and threads in wait_idle, under
  // mutex_; both wait on idle_.
  uint64_t context_waiters_ = 0;
  mutable uint64_t idle_waiters_ = 0;
  mutable std::condition_variable idle_;
  // Implicit cache of a `runtime_cache: PATH` setting.
  std::filesystem::path implicit_cache_path_;
  std::shared_ptr<RuntimeCache> implicit_cache_;
};

}  // namespace rtscope
