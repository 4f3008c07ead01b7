// The C ABI surface: rts_plugin_entry and the function table. Every slot is
// a trampoline that converts handles, runs the C++ implementation and turns
// any exception into a status plus one message for the error sink.
#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "context.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "graph_desc.hpp"
#include "op_spec.hpp"
#include "plugin.hpp"
#include "rtscope/kit/abi_guard.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {
namespace {

VulkanPlugin* as_plugin(rts_plugin* handle) { return reinterpret_cast<VulkanPlugin*>(handle); }
Engine* as_engine(rts_engine* handle) { return reinterpret_cast<Engine*>(handle); }
Context* as_context(rts_context* handle) { return reinterpret_cast<Context*>(handle); }

using kit::copy_sized;
using kit::require;

// Runs `body`; on an exception reports it once and returns its status.
template <typename Body>
rts_status guarded(const rts_error_sink* err, Body&& body) noexcept {
  return kit::guarded("vulkan", err, std::forward<Body>(body));
}

// With every input dim known, runs the op's shape inference so that a
// shape the kernel rejects is reported now instead of at build time.
std::string check_static_shapes(const OpSpec& spec, const NodeDesc& desc, const rts_value* inputs) {
  std::vector<Dims> dims;
  for (size_t i = 0; i < desc.inputs.size(); ++i) {
    const ValueDesc value = copy_value(inputs[i], "input");
    if (!value.is_static()) return {};
    dims.push_back(value.dims);
  }
  std::vector<const Dims*> input_dims;
  for (const Dims& input : dims) input_dims.push_back(&input);
  std::vector<Dims> output_dims(desc.outputs.size());
  try {
    spec.infer(desc, input_dims, output_dims);
  } catch (const Error& error) {
    // The caller names the op; drop the node label the message starts with.
    const std::string message = error.what();
    const std::string label = desc.label() + ": ";
    return message.rfind(label, 0) == 0 ? message.substr(label.size()) : message;
  }
  return {};
}

rts_status plugin_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
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
    *out = reinterpret_cast<rts_plugin*>(new VulkanPlugin(host, abi_minor));
  });
}

void plugin_shutdown(rts_plugin* plugin) { delete as_plugin(plugin); }

uint32_t plugin_device_count(rts_plugin* plugin) {
  return plugin != nullptr ? as_plugin(plugin)->device_count() : 0;
}

rts_status plugin_device_info(rts_plugin* plugin, uint32_t device, rts_device_info* out,
                              const rts_error_sink* err) {
  return guarded(err, [&] {
    require(plugin, "plugin");
    require(out, "out");
    copy_sized(as_plugin(plugin)->physical(device).info, out);
  });
}

rts_status plugin_query_node(rts_plugin* plugin, uint32_t device, const rts_node* node,
                             const rts_value* inputs, const rts_value* outputs, rts_support* out,
                             const rts_error_sink* err) {
  return guarded(err, [&] {
    require(plugin, "plugin");
    require(node, "node");
    require(out, "out");
    VulkanPlugin& self = *as_plugin(plugin);
    const DeviceCaps& caps = self.physical(device).caps;
    const NodeDesc desc = copy_node(*node);
    if (desc.inputs.size() > 0) require(inputs, "inputs");

    rts_support answer{};
    answer.struct_size = sizeof(answer);
    answer.needs_output_allocation = 0;
    const OpSpec* spec = find_op_spec(desc.op);
    std::string reason;
    if (spec == nullptr) {
      answer.detail = unsupported_op_reason(desc.op);
    } else {
      std::vector<rts_dtype> dtypes;
      for (size_t i = 0; i < desc.inputs.size(); ++i) dtypes.push_back(inputs[i].dtype);
      reason = check_input_types(*spec, dtypes);
      if (reason.empty()) reason = check_attrs(*spec, desc);
      if (reason.empty()) reason = check_device_support(*spec, dtypes, caps);
      if (reason.empty() && desc.outputs.size() != 1) {
        reason = str_cat("expects 1 output, got ", desc.outputs.size());
      }
      if (reason.empty() && outputs != nullptr && outputs[0].dtype != output_dtype(*spec, dtypes)) {
        reason = str_cat("output is declared ", dtype_name(outputs[0].dtype), " but ", desc.op,
                         " produces ", dtype_name(output_dtype(*spec, dtypes)));
      }
      if (reason.empty()) reason = check_static_shapes(*spec, desc, inputs);
      if (reason.empty()) {
        answer.supported = 1;
        answer.needs_output_allocation = is_data_dependent(*spec, desc) ? 1 : 0;
        // Name the kernel and how f16 is handled on this device.
        const bool f16 = std::find(dtypes.begin(), dtypes.end(), RTS_DTYPE_F16) != dtypes.end();
        std::string detail = kernel_name_for(*spec, desc);
        const std::vector<std::string> variants = shader_variants(*spec, dtypes, caps);
        for (size_t i = 0; i < variants.size(); ++i) {
          detail += str_cat(i == 0 ? " (" : ", ", variants[i], i + 1 == variants.size() ? ")" : "");
        }
        if (f16) {
          detail += caps.storage_16bit
                        ? " f16 storage, f32 math"
                        : " f16 via f32: converted while staging (no 16-bit storage)";
        }
        answer.detail = self.intern(detail);
      } else {
        answer.detail = self.intern(str_cat("vulkan: ", desc.op, ": ", reason));
      }
    }
    copy_sized(answer, out);
  });
}

rts_status plugin_build_engine(rts_plugin* plugin, uint32_t device, const rts_graph* graph,
                               rts_engine** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    require(plugin, "plugin");
    require(graph, "graph");
    require(out, "out");
    *out = nullptr;
    auto engine = std::make_unique<Engine>(*as_plugin(plugin), device, copy_graph(*graph));
    *out = reinterpret_cast<rts_engine*>(engine.release());
  });
}

rts_status plugin_serialize_engine(rts_engine* engine, const rts_blob_sink* sink,
                                   const rts_error_sink* err) {
  return guarded(err, [&] {
    require(engine, "engine");
    require(sink, "sink");
    as_engine(engine)->serialize(*sink);
  });
}

rts_status plugin_deserialize_engine(rts_plugin* plugin, uint32_t device, const void* data,
                                     uint64_t size, rts_engine** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    require(plugin, "plugin");
    require(out, "out");
    *out = nullptr;
    *out = reinterpret_cast<rts_engine*>(
        Engine::deserialize(*as_plugin(plugin), device, data, size).release());
  });
}

rts_status plugin_engine_info(rts_engine* engine, rts_engine_info* out, const rts_error_sink* err) {
  return guarded(err, [&] {
    require(engine, "engine");
    require(out, "out");
    rts_engine_info info{};
    info.struct_size = sizeof(info);
    as_engine(engine)->fill_info(info);
    copy_sized(info, out);
  });
}

void plugin_destroy_engine(rts_engine* engine) { delete as_engine(engine); }

rts_status plugin_create_context(rts_engine* engine, const rts_runtime_settings* settings,
                                 rts_context** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    require(engine, "engine");
    require(out, "out");
    *out = nullptr;
    *out = reinterpret_cast<rts_context*>(new Context(*as_engine(engine), settings));
  });
}

void plugin_destroy_context(rts_context* context) { delete as_context(context); }

rts_status plugin_execute(rts_context* context, const rts_execute_args* args,
                          const rts_error_sink* err) {
  return guarded(err, [&] {
    require(context, "context");
    require(args, "args");
    as_context(context)->execute(*args);
  });
}

// Every valid setting runs (see context.hpp), so only values outside the
// enums are refused.
rts_status plugin_validate_settings(rts_engine* engine, const rts_runtime_settings* settings,
                                    const rts_error_sink* err) {
  return guarded(err, [&] {
    require(engine, "engine");
    read_settings(settings);
  });
}

void plugin_context_counters(rts_context* context, const rts_counter_sink* sink) {
  if (context == nullptr || sink == nullptr) return;
  guarded(nullptr, [&] { as_context(context)->report_counters(*sink); });
}

rts_status plugin_device_alloc(rts_plugin* plugin, uint32_t device, uint64_t size, void** out,
                               const rts_error_sink* err) {
  return guarded(err, [&] {
    require(plugin, "plugin");
    require(out, "out");
    *out = nullptr;
    *out = as_plugin(plugin)->device(device).tensors().allocate(size);
  });
}

void plugin_device_free(rts_plugin* plugin, uint32_t device, void* ptr) {
  if (plugin == nullptr || ptr == nullptr) return;
  guarded(nullptr, [&] {
    VulkanPlugin& self = *as_plugin(plugin);
    if (!self.device(device).tensors().free(ptr)) {
      self.log(RTS_LOG_ERROR, str_cat("vulkan: device_free of a pointer that is not live device "
                                      "memory of device ",
                                      device, "; ignored"));
    }
  });
}

rts_status plugin_device_copy(rts_plugin* plugin, uint32_t device, void* device_ptr, void* host_ptr,
                              uint64_t size, int to_device, const rts_error_sink* err) {
  return guarded(err, [&] {
    require(plugin, "plugin");
    require(device_ptr, "device_ptr");
    if (size > 0) require(host_ptr, "host_ptr");
    as_plugin(plugin)->device(device).tensors().copy(device_ptr, host_ptr, size, to_device != 0);
  });
}

const rts_plugin_api kPluginApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = kPluginId,
    .version = kPluginVersion,
    .init = plugin_init,
    .shutdown = plugin_shutdown,
    .device_count = plugin_device_count,
    .device_info = plugin_device_info,
    .query_node = plugin_query_node,
    .build_engine = plugin_build_engine,
    .serialize_engine = plugin_serialize_engine,
    .deserialize_engine = plugin_deserialize_engine,
    .engine_info = plugin_engine_info,
    .destroy_engine = plugin_destroy_engine,
    .create_context = plugin_create_context,
    .destroy_context = plugin_destroy_context,
    .execute = plugin_execute,
    .context_counters = plugin_context_counters,
    .device_alloc = plugin_device_alloc,
    .device_free = plugin_device_free,
    .device_copy = plugin_device_copy,
    .validate_settings = plugin_validate_settings,
};

}  // namespace
}  // namespace rtscope::vulkan

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  return &rtscope::vulkan::kPluginApi;
}
