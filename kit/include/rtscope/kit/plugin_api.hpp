// The C function table of a backend (plugin_abi.h), generated from its
// kit::Backend subclass B. Every slot is a trampoline that checks the
// pointers it is given, converts handles, calls the C++ interface and turns
// any exception - Error, bad_alloc, anything else, even `throw 42` - into a
// status plus one message for the host's error sink: nothing thrown ever
// crosses the C boundary. A plugin's whole entry point is then
//
//   extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
//     return &rtscope::kit::plugin_api<MyBackend>();
//   }
#pragma once

#include <cstddef>
#include <memory>

#include "rtscope/kit/abi_guard.hpp"
#include "rtscope/kit/backend.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {
namespace trampolines {

inline Backend* as_backend(rts_plugin* handle) { return reinterpret_cast<Backend*>(handle); }
inline Engine* as_engine(rts_engine* handle) { return reinterpret_cast<Engine*>(handle); }
inline Context* as_context(rts_context* handle) { return reinterpret_cast<Context*>(handle); }
// The backend, once `device` is known to be one of its devices
// (device_info throws naming the valid range).
inline Backend& on_device(rts_plugin* handle, uint32_t device) {
  Backend& backend = *as_backend(handle);
  backend.device_info(device);
  return backend;
}

template <typename B>
struct Table {
  static constexpr const char* kName = B::kFormat.backend;

  template <typename Body>
  static rts_status guarded(const rts_error_sink* err, Body&& body) noexcept {
    return kit::guarded(kName, err, static_cast<Body&&>(body));
  }

  static rts_status init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                         const rts_error_sink* err) {
    return guarded(err, [&] {
      require(out, "out");
      *out = nullptr;
      if (host != nullptr && host->struct_size < offsetof(rts_host_api, user) + sizeof(void*)) {
        fail_invalid("rts_host_api.struct_size ", host->struct_size, " is too small");
      }
      if (abi_minor > RTS_ABI_VERSION_MINOR) {
        fail(RTS_ERROR_VERSION, "negotiated ABI minor ", abi_minor, " is newer than the plugin's ",
             RTS_ABI_VERSION_MINOR);
      }
      Backend* backend = new B(host, abi_minor);
      *out = reinterpret_cast<rts_plugin*>(backend);
    });
  }

  static void shutdown(rts_plugin* plugin) { delete as_backend(plugin); }

  static uint32_t device_count(rts_plugin* plugin) {
    return plugin != nullptr ? as_backend(plugin)->device_count() : 0;
  }

  static rts_status device_info(rts_plugin* plugin, uint32_t device, rts_device_info* out,
                                const rts_error_sink* err) {
    return guarded(err, [&] {
      require(plugin, "plugin");
      require(out, "out");
      copy_sized(as_backend(plugin)->device_info(device), out);
    });
  }

  static rts_status query_node(rts_plugin* plugin, uint32_t device, const rts_node* node,
                               const rts_value* inputs, const rts_value* outputs, rts_support* out,
                               const rts_error_sink* err) {
    return guarded(err, [&] {
      require(plugin, "plugin");
      require(node, "node");
      require(out, "out");
      Backend& backend = on_device(plugin, device);
      const NodeDesc desc = copy_node(*node);
      if (desc.inputs.size() > 0) require(inputs, "inputs");
      rts_support answer = backend.query_node(device, desc, inputs, outputs);
      answer.struct_size = sizeof(answer);
      copy_sized(answer, out);
    });
  }

  static rts_status build_engine(rts_plugin* plugin, uint32_t device, const rts_graph* graph,
                                 rts_engine** out, const rts_error_sink* err) {
    return guarded(err, [&] {
      require(plugin, "plugin");
      require(graph, "graph");
      require(out, "out");
      *out = nullptr;
      Backend& backend = on_device(plugin, device);
      *out =
          reinterpret_cast<rts_engine*>(backend.build_engine(device, copy_graph(*graph)).release());
    });
  }

  static rts_status serialize_engine(rts_engine* engine, const rts_blob_sink* sink,
                                     const rts_error_sink* err) {
    return guarded(err, [&] {
      require(engine, "engine");
      require(sink, "sink");
      as_engine(engine)->serialize(*sink);
    });
  }

  static rts_status deserialize_engine(rts_plugin* plugin, uint32_t device, const void* data,
                                       uint64_t size, rts_engine** out, const rts_error_sink* err) {
    return guarded(err, [&] {
      require(plugin, "plugin");
      require(out, "out");
      *out = nullptr;
      *out = reinterpret_cast<rts_engine*>(
          on_device(plugin, device).deserialize_engine(device, data, size).release());
    });
  }

  static rts_status engine_info(rts_engine* engine, rts_engine_info* out,
                                const rts_error_sink* err) {
    return guarded(err, [&] {
      require(engine, "engine");
      require(out, "out");
      rts_engine_info info{};
      info.struct_size = sizeof(info);
      as_engine(engine)->fill_info(info);
      copy_sized(info, out);
    });
  }

  static void destroy_engine(rts_engine* engine) { delete as_engine(engine); }

  static rts_status create_context(rts_engine* engine, const rts_runtime_settings* settings,
                                   rts_context** out, const rts_error_sink* err) {
    return guarded(err, [&] {
      require(engine, "engine");
      require(out, "out");
      *out = nullptr;
      *out = reinterpret_cast<rts_context*>(as_engine(engine)->create_context(settings).release());
    });
  }

  static void destroy_context(rts_context* context) { delete as_context(context); }

  static rts_status execute(rts_context* context, const rts_execute_args* args,
                            const rts_error_sink* err) {
    return guarded(err, [&] {
      require(context, "context");
      require(args, "args");
      as_context(context)->execute(*args);
    });
  }

  static rts_status validate_settings(rts_engine* engine, const rts_runtime_settings* settings,
                                      const rts_error_sink* err) {
    return guarded(err, [&] {
      require(engine, "engine");
      as_engine(engine)->validate_settings(settings);
    });
  }

  static void context_counters(rts_context* context, const rts_counter_sink* sink) {
    if (context == nullptr || sink == nullptr) return;
    guarded(nullptr, [&] { as_context(context)->report_counters(*sink); });
  }

  static rts_status device_alloc(rts_plugin* plugin, uint32_t device, uint64_t size, void** out,
                                 const rts_error_sink* err) {
    return guarded(err, [&] {
      require(plugin, "plugin");
      require(out, "out");
      *out = nullptr;
      *out = as_backend(plugin)->device_alloc(device, size);
    });
  }

  static void device_free(rts_plugin* plugin, uint32_t device, void* ptr) {
    if (plugin == nullptr || ptr == nullptr) return;
    guarded(nullptr, [&] { as_backend(plugin)->device_free(device, ptr); });
  }

  static rts_status device_copy(rts_plugin* plugin, uint32_t device, void* device_ptr,
                                void* host_ptr, uint64_t size, int to_device,
                                const rts_error_sink* err) {
    return guarded(err, [&] {
      require(plugin, "plugin");
      require(device_ptr, "device_ptr");
      if (size > 0) require(host_ptr, "host_ptr");
      as_backend(plugin)->device_copy(device, device_ptr, host_ptr, size, to_device != 0);
    });
  }
};

}  // namespace trampolines

// The function table of backend B; device_alloc, device_free and
// device_copy are NULL unless B::kDeviceMemory (host memory is then the
// backend's device memory).
template <typename B>
const rts_plugin_api& plugin_api() {
  using T = trampolines::Table<B>;
  static const rts_plugin_api api = {
      .struct_size = sizeof(rts_plugin_api),
      .abi_major = RTS_ABI_VERSION_MAJOR,
      .abi_minor = RTS_ABI_VERSION_MINOR,
      .id = B::kFormat.backend,
      .version = B::kFormat.plugin_version,
      .init = T::init,
      .shutdown = T::shutdown,
      .device_count = T::device_count,
      .device_info = T::device_info,
      .query_node = T::query_node,
      .build_engine = T::build_engine,
      .serialize_engine = T::serialize_engine,
      .deserialize_engine = T::deserialize_engine,
      .engine_info = T::engine_info,
      .destroy_engine = T::destroy_engine,
      .create_context = T::create_context,
      .destroy_context = T::destroy_context,
      .execute = T::execute,
      .context_counters = T::context_counters,
      .device_alloc = B::kDeviceMemory ? T::device_alloc : nullptr,
      .device_free = B::kDeviceMemory ? T::device_free : nullptr,
      .device_copy = B::kDeviceMemory ? T::device_copy : nullptr,
      .validate_settings = T::validate_settings,
  };
  return api;
}

}  // namespace rtscope::kit
