// Plugin: one loaded and initialized backend library. Objects made from a
// plugin (engines, contexts, modules) hold a shared_ptr to it, so the
// library stays loaded while any of them lives.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope {

struct DeviceInfo {
  std::string name;
  rts_device_kind kind = RTS_DEVICE_CPU;
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  uint64_t driver_version = 0;
  uint64_t memory_bytes = 0;
  std::string fingerprint;
};

// The arguments of one execute over `inputs` and `outputs`, in the engine's
// order. Nothing is copied: both must outlive the call. `allocator` is null
// when every output is bound.
inline rts_execute_args execute_args(std::span<const rts_tensor> inputs,
                                     std::span<rts_tensor> outputs,
                                     const rts_output_allocator* allocator = nullptr) {
  rts_execute_args args{};
  args.struct_size = sizeof(args);
  args.inputs = inputs.data();
  args.n_inputs = static_cast<uint32_t>(inputs.size());
  args.outputs = outputs.data();
  args.n_outputs = static_cast<uint32_t>(outputs.size());
  args.allocator = allocator;
  return args;
}

// Collects the message a plugin reports through rts_error_sink and turns a
// failing status into PluginError.
class PluginCall {
 public:
  PluginCall();
  const rts_error_sink* sink() const { return &sink_; }
  // Throws PluginError "<plugin>: <what> failed: <message> (status N)"
  // unless status is RTS_OK.
  void check(rts_status status, const std::string& plugin, const std::string& what) const;
  const std::string& message() const { return message_; }

 private:
  rts_error_sink sink_;
  std::string message_;
};

class Plugin {
 public:
  // Use PluginRegistry::load.
  struct Library;
  Plugin(std::unique_ptr<Library> library, const rts_plugin_api* api, std::filesystem::path path);
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const std::string& id() const { return id_; }
  const std::string& version() const { return version_; }
  const std::filesystem::path& path() const { return path_; }
  uint32_t abi_major() const { return api_->abi_major; }
  uint32_t abi_minor() const { return negotiated_minor_; }
  const std::vector<DeviceInfo>& devices() const { return devices_; }

  // "plugin 'ID' (PATH)", for messages.
  const std::string& label() const { return label_; }

  // The raw function table, for load-time checks and the conformance tool
  // (which calls slots directly to check their behaviour, under its own
  // guard). Host code calls the guarded slot wrappers below instead.
  const rts_plugin_api& api() const { return *api_; }
  rts_plugin* handle() const { return handle_; }

  // Initializes the plugin (called by the registry); throws PluginError
  // with the plugin's own message.
  void initialize();

  // Guarded slot calls (plugin_slots.cpp): the only way host code reaches
  // the plugin. A failing status becomes PluginError with the plugin's own
  // message; a C++ exception escaping the plugin becomes PluginError naming
  // the plugin and the slot. Calls that run in destructors never throw:
  // they log what went wrong instead.
  rts_support query_node(uint32_t device, const rts_node& node, const rts_value* inputs,
                         const rts_value* outputs) const;
  rts_engine* build_engine(uint32_t device, const rts_graph& graph) const;
  rts_engine* deserialize_engine(uint32_t device, const void* data, uint64_t size) const;
  void serialize_engine(rts_engine* engine, const rts_blob_sink& sink) const;
  rts_engine_info engine_info(rts_engine* engine) const;
  void destroy_engine(rts_engine* engine) const noexcept;
  rts_context* create_context(rts_engine* engine, const rts_runtime_settings& settings) const;
  void destroy_context(rts_context* context) const noexcept;
  // `what` names the run in messages, e.g. "execute of module 'm'".
  void execute(rts_context* context, const rts_execute_args& args, const std::string& what) const;
  // No-op when the plugin has no counters slot.
  void context_counters(rts_context* context, const rts_counter_sink& sink) const;
  // Does nothing when the plugin has no validate_settings slot.
  void validate_settings(rts_engine* engine, const rts_runtime_settings& settings,
                         const std::string& what) const;
  // device_alloc, device_free and device_copy are all set.
  bool has_device_memory() const;
  void* device_alloc(uint32_t device, uint64_t bytes) const;
  void device_free(uint32_t device, void* memory) const noexcept;
  void device_copy(uint32_t device, void* device_ptr, void* host_ptr, uint64_t bytes,
                   bool to_device) const;

 private:
  std::unique_ptr<Library> library_;  // destroyed last
  const rts_plugin_api* api_;
  std::filesystem::path path_;
  std::string id_;
  std::string version_;
  std::string label_;  // made once: the guard on every call names it
  uint32_t negotiated_minor_ = 0;
  rts_host_api host_api_{};
  rts_plugin* handle_ = nullptr;
  std::vector<DeviceInfo> devices_;
};

}  // namespace rtscope
