// Plugin's guarded slot wrappers: every call from the host into a plugin
// passes here, under call_slot (plugin_guard.hpp), and failing statuses
// become PluginError with the plugin's own message.
#include <memory>

#include "plugin_guard.hpp"
#include "rtscope/error.hpp"
#include "rtscope/exception_type.hpp"
#include "rtscope/log.hpp"
#include "rtscope/plugin.hpp"

namespace rtscope {

[[noreturn]] void throw_escaped_exception(const std::string& plugin, const char* slot) {
  std::string detail = current_exception_type();
  try {
    throw;
  } catch (const std::exception& e) {
    detail += std::string(": ") + e.what();
  } catch (...) {
  }
  throw PluginError(plugin + ": slot '" + slot + "' let a C++ exception escape (" + detail +
                    "); a plugin must catch every exception at its entry points and return an "
                    "error status: fix the plugin");
}

rts_support Plugin::query_node(uint32_t device, const rts_node& node, const rts_value* inputs,
                               const rts_value* outputs) const {
  rts_support support{};
  support.struct_size = sizeof(support);
  PluginCall call;
  call.check(call_slot(label(), "query_node", api_->query_node, handle_, device, &node, inputs,
                       outputs, &support, call.sink()),
             id_, std::string("query_node for '") + (node.name ? node.name : "") + "'");
  return support;
}

rts_engine* Plugin::build_engine(uint32_t device, const rts_graph& graph) const {
  rts_engine* engine = nullptr;
  PluginCall call;
  call.check(call_slot(label(), "build_engine", api_->build_engine, handle_, device, &graph,
                       &engine, call.sink()),
             id_, std::string("build_engine for '") + (graph.name ? graph.name : "") + "'");
  if (!engine) throw PluginError(label() + ": build_engine returned RTS_OK but no engine");
  return engine;
}

rts_engine* Plugin::deserialize_engine(uint32_t device, const void* data, uint64_t size) const {
  rts_engine* engine = nullptr;
  PluginCall call;
  call.check(call_slot(label(), "deserialize_engine", api_->deserialize_engine, handle_, device,
                       data, size, &engine, call.sink()),
             id_, "deserialize_engine");
  if (!engine) throw PluginError(label() + ": deserialize_engine returned RTS_OK but no engine");
  return engine;
}

void Plugin::serialize_engine(rts_engine* engine, const rts_blob_sink& sink) const {
  PluginCall call;
  call.check(
      call_slot(label(), "serialize_engine", api_->serialize_engine, engine, &sink, call.sink()),
      id_, "serialize_engine");
}

rts_engine_info Plugin::engine_info(rts_engine* engine) const {
  rts_engine_info info{};
  info.struct_size = sizeof(info);
  PluginCall call;
  call.check(call_slot(label(), "engine_info", api_->engine_info, engine, &info, call.sink()), id_,
             "engine_info");
  return info;
}

void Plugin::destroy_engine(rts_engine* engine) const noexcept {
  call_release_slot(label(), "destroy_engine", api_->destroy_engine, engine);
}

rts_context* Plugin::create_context(rts_engine* engine,
                                    const rts_runtime_settings& settings) const {
  rts_context* context = nullptr;
  PluginCall call;
  call.check(call_slot(label(), "create_context", api_->create_context, engine, &settings, &context,
                       call.sink()),
             id_, "create_context");
  return context;
}

void Plugin::destroy_context(rts_context* context) const noexcept {
  call_release_slot(label(), "destroy_context", api_->destroy_context, context);
}

void Plugin::execute(rts_context* context, const rts_execute_args& args,
                     const std::string& what) const {
  PluginCall call;
  const rts_status status =
      call_slot(label(), "execute", api_->execute, context, &args, call.sink());
  if (status != RTS_OK) call.check(status, id_, what);
}

void Plugin::context_counters(rts_context* context, const rts_counter_sink& sink) const {
  if (!api_->context_counters) return;
  call_slot(label(), "context_counters", api_->context_counters, context, &sink);
}

void Plugin::validate_settings(rts_engine* engine, const rts_runtime_settings& settings,
                               const std::string& what) const {
  if (!RTS_HAS_FIELD(api_, rts_plugin_api, validate_settings) || !api_->validate_settings) return;
  PluginCall call;
  const rts_status status = call_slot(label(), "validate_settings", api_->validate_settings, engine,
                                      &settings, call.sink());
  if (status != RTS_OK) call.check(status, id_, what);
}

bool Plugin::has_device_memory() const {
  return RTS_HAS_FIELD(api_, rts_plugin_api, device_copy) && api_->device_alloc &&
         api_->device_free && api_->device_copy;
}

void* Plugin::device_alloc(uint32_t device, uint64_t bytes) const {
  void* memory = nullptr;
  PluginCall call;
  call.check(call_slot(label(), "device_alloc", api_->device_alloc, handle_, device, bytes, &memory,
                       call.sink()),
             id_, "device_alloc(" + std::to_string(bytes) + " bytes)");
  if (!memory) throw PluginError("plugin '" + id_ + "': device_alloc returned no memory");
  return memory;
}

void Plugin::device_free(uint32_t device, void* memory) const noexcept {
  call_release_slot(label(), "device_free", api_->device_free, handle_, device, memory);
}

void Plugin::device_copy(uint32_t device, void* device_ptr, void* host_ptr, uint64_t bytes,
                         bool to_device) const {
  PluginCall call;
  call.check(call_slot(label(), "device_copy", api_->device_copy, handle_, device, device_ptr,
                       host_ptr, bytes, to_device ? 1 : 0, call.sink()),
             id_,
             std::string("device_copy(") + (to_device ? "to device, " : "to host, ") +
                 std::to_string(bytes) + " bytes)");
}

}  // namespace rtscope
