// The C face of the testing plugin: rts_plugin_entry and the function table.
// Every slot is an extern "C" trampoline that catches everything, so no C++
// exception ever reaches the host; failures become a status plus one
// message through the caller's error sink.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "blob.hpp"
#include "context.hpp"
#include "engine.hpp"
#include "failure.hpp"
#include "graph_def.hpp"
#include "kernels.hpp"
#include "plugin_state.hpp"

namespace rtscope_testing {
namespace {

void report(const rts_error_sink* err, rts_status status, const char* message) noexcept {
  if (err && err->report) err->report(err->user, status, message);
}

template <typename Fn>
rts_status guarded(const rts_error_sink* err, Fn&& fn) noexcept {
  try {
    fn();
    return RTS_OK;
  } catch (const Failure& f) {
    report(err, f.status(), f.what());
    return f.status();
  } catch (const std::bad_alloc&) {
    report(err, RTS_ERROR_OUT_OF_MEMORY, "testing: out of memory");
    return RTS_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    report(err, RTS_ERROR_INTERNAL, e.what());
    return RTS_ERROR_INTERNAL;
  } catch (...) {
    report(err, RTS_ERROR_INTERNAL, "testing: unknown internal error");
    return RTS_ERROR_INTERNAL;
  }
}

// For slots without an error sink: a failure there can only be dropped.
template <typename Fn>
void guarded_void(Fn&& fn) noexcept {
  try {
    fn();
  } catch (...) {
  }
}

template <typename T>
T& deref(T* ptr, const char* what) {
  if (!ptr) fail(RTS_ERROR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  return *ptr;
}

PluginState& state_of(rts_plugin* plugin) {
  return deref(reinterpret_cast<PluginState*>(plugin), "plugin");
}
Engine& engine_of(rts_engine* engine) { return deref(reinterpret_cast<Engine*>(engine), "engine"); }
Context& context_of(rts_context* context) {
  return deref(reinterpret_cast<Context*>(context), "context");
}

bool wants_dynamic_output(const rts_node& node) {
  for (uint32_t a = 0; a < node.n_attrs; ++a) {
    const rts_attr& attr = node.attrs[a];
    if (attr.name && std::strcmp(attr.name, kDynamicOutputAttr) == 0) {
      return attr.type == RTS_ATTR_INT && attr.i == 1;
    }
  }
  return false;
}

bool has_real_attr(const rts_node& node, const char* name) {
  for (uint32_t a = 0; a < node.n_attrs; ++a) {
    const rts_attr& attr = node.attrs[a];
    if (attr.name && std::strcmp(attr.name, name) == 0) {
      return attr.type == RTS_ATTR_FLOAT || attr.type == RTS_ATTR_INT;
    }
  }
  return false;
}

// Value of the integer attribute `name`, or 0 when absent.
int64_t int_attr(const rts_node& node, const char* name) {
  for (uint32_t a = 0; a < node.n_attrs; ++a) {
    const rts_attr& attr = node.attrs[a];
    if (attr.name && std::strcmp(attr.name, name) == 0 && attr.type == RTS_ATTR_INT) return attr.i;
  }
  return 0;
}

// Fills `out` for query_node. Details are static strings, as the ABI asks.
void answer_query(const rts_node& node, const rts_value* inputs, const rts_value* outputs,
                  rts_support* out) {
  out->supported = 0;
  out->needs_output_allocation = 0;
  const auto op = node.op ? op_from_name(node.op) : std::nullopt;
  if (!op) {
    out->detail = "op not provided by the testing plugin";
    return;
  }
  if (node.n_inputs != op_arity(*op) || node.n_outputs != 1) {
    out->detail = "testing: unexpected number of inputs or outputs";
    return;
  }
  if (node.n_attrs > 0 && !node.attrs) fail(RTS_ERROR_INVALID_ARGUMENT, "node attrs is NULL");
  if (!inputs || !outputs) fail(RTS_ERROR_INVALID_ARGUMENT, "value declarations are NULL");
  for (uint32_t i = 0; i < node.n_inputs; ++i) {
    if (inputs[i].dtype != RTS_DTYPE_F32) {
      out->detail = "testing: dtype not provided (f32 only)";
      return;
    }
  }
  const rts_dtype output_dtype = *op == Op::kNonzero ? RTS_DTYPE_I64 : RTS_DTYPE_F32;
  if (outputs[0].dtype != output_dtype) {
    out->detail = "testing: dtype not provided (f32 only)";
    return;
  }
  if (*op == Op::kNonzero) {
    // Two kernels: with max_count > 0 the output is a static padded
    // [max_count, rank], otherwise its row count is known only after
    // running, so the host must allocate it.
    const bool padded = int_attr(node, "max_count") > 0;
    out->supported = 1;
    out->needs_output_allocation = padded ? 0 : 1;
    out->detail = padded ? "testing:nonzero_padded" : "testing:nonzero";
    return;
  }
  if (*op == Op::kScale && !has_real_attr(node, "factor")) {
    out->detail = "testing: scale needs a real 'factor' attribute";
    return;
  }
  out->supported = 1;
  out->needs_output_allocation = wants_dynamic_output(node) ? 1 : 0;
  out->detail = kernel_detail(*op);
}

// Clears an out-struct the caller sized, keeping its struct_size.
template <typename T>
void clear_struct(T* out) {
  const uint32_t size = out->struct_size;
  std::memset(static_cast<void*>(out), 0, std::min<std::size_t>(size, sizeof(T)));
  out->struct_size = size;
}

}  // namespace

// C language linkage so the table holds genuine C function pointers; static
// so that nothing but rts_plugin_entry becomes visible.
extern "C" {

static rts_status testing_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                               const rts_error_sink* err) {
  return guarded(err, [&] {
    deref(out, "out") = nullptr;
    const Config config = read_config(host);
    if (config.fail_init) fail(RTS_ERROR_DEVICE, *config.fail_init);
    *out = reinterpret_cast<rts_plugin*>(new PluginState(host, abi_minor));
  });
}

static void testing_shutdown(rts_plugin* plugin) {
  guarded_void([&] {
    std::unique_ptr<PluginState> state(reinterpret_cast<PluginState*>(plugin));
    if (!state) return;
    const int64_t engines = state->engines_live.load();
    const uint64_t contexts = state->contexts_created.load() - state->contexts_destroyed.load();
    if (engines != 0 || contexts != 0) {
      state->log(RTS_LOG_ERROR, "testing: shutdown with " + std::to_string(engines) +
                                    " engines and " + std::to_string(contexts) +
                                    " contexts still alive");
    }
  });
}

static uint32_t testing_device_count(rts_plugin* /*plugin*/) { return 1; }

static rts_status testing_device_info(rts_plugin* plugin, uint32_t device, rts_device_info* out,
                                      const rts_error_sink* err) {
  return guarded(err, [&] {
    state_of(plugin).check_device(device);
    if (!out || !RTS_HAS_FIELD(out, rts_device_info, fingerprint)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "device_info: out is NULL or its struct_size too small");
    }
    clear_struct(out);
    std::snprintf(out->name, sizeof out->name, "%s", kDeviceName);
    out->kind = RTS_DEVICE_VIRTUAL;
    out->driver_version = 1;
    std::memcpy(out->uuid, "rtscope-testing", 16);  // 15 chars and the NUL
    out->memory_bytes = uint64_t{1} << 30;          // nominal: memory is the host heap
    std::snprintf(out->fingerprint, sizeof out->fingerprint, "%s", kDeviceFingerprint);
  });
}

static rts_status testing_query_node(rts_plugin* plugin, uint32_t device, const rts_node* node,
                                     const rts_value* inputs, const rts_value* outputs,
                                     rts_support* out, const rts_error_sink* err) {
  return guarded(err, [&] {
    state_of(plugin).check_device(device);
    if (!node || !RTS_HAS_FIELD(node, rts_node, n_attrs)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "query_node: node is NULL or its struct_size too small");
    }
    if (!out || !RTS_HAS_FIELD(out, rts_support, detail)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "query_node: out is NULL or its struct_size too small");
    }
    answer_query(*node, inputs, outputs, out);
  });
}

static rts_status testing_build_engine(rts_plugin* plugin, uint32_t device, const rts_graph* graph,
                                       rts_engine** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    deref(out, "out") = nullptr;
    PluginState& state = state_of(plugin);
    const Config config = state.config();
    if (config.fail_build) fail(RTS_ERROR_DEVICE, *config.fail_build);
    auto engine = std::make_unique<Engine>(&state, device, copy_graph(deref(graph, "graph")));
    *out = reinterpret_cast<rts_engine*>(engine.release());
  });
}

static rts_status testing_serialize_engine(rts_engine* engine, const rts_blob_sink* sink,
                                           const rts_error_sink* err) {
  return guarded(err, [&] {
    const std::string blob = serialize_graph(engine_of(engine).graph());
    if (!sink || !sink->write) fail(RTS_ERROR_INVALID_ARGUMENT, "serialize_engine: sink is NULL");
    const int rc = sink->write(sink->user, blob.data(), blob.size());
    if (rc != 0) {
      // The sink's code is the status to fail with when it is one.
      const auto status =
          rc > 0 && rc <= RTS_ERROR_INTERNAL ? static_cast<rts_status>(rc) : RTS_ERROR_INTERNAL;
      fail(status,
           "serialize_engine: the blob sink refused the engine (" + std::to_string(rc) + ")");
    }
  });
}

static rts_status testing_deserialize_engine(rts_plugin* plugin, uint32_t device, const void* data,
                                             uint64_t size, rts_engine** out,
                                             const rts_error_sink* err) {
  return guarded(err, [&] {
    deref(out, "out") = nullptr;
    PluginState& state = state_of(plugin);
    auto engine = std::make_unique<Engine>(&state, device, deserialize_graph(data, size));
    *out = reinterpret_cast<rts_engine*>(engine.release());
  });
}

static rts_status testing_engine_info(rts_engine* engine, rts_engine_info* out,
                                      const rts_error_sink* err) {
  return guarded(err, [&] {
    const Engine& e = engine_of(engine);
    if (!out || !RTS_HAS_FIELD(out, rts_engine_info, needs_output_allocation)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "engine_info: out is NULL or its struct_size too small");
    }
    e.fill_info(out);
  });
}

static void testing_destroy_engine(rts_engine* engine) {
  guarded_void([&] {
    auto* e = reinterpret_cast<Engine*>(engine);
    if (!e) return;
    const int64_t contexts = e->live_contexts.load();
    if (contexts != 0) {
      // Freeing it would leave those contexts dangling: leak it instead.
      e->plugin().log(RTS_LOG_ERROR, "testing: destroy_engine with " + std::to_string(contexts) +
                                         " contexts alive; the engine is leaked");
      return;
    }
    delete e;
  });
}

static rts_status testing_create_context(rts_engine* engine, const rts_runtime_settings* settings,
                                         rts_context** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    deref(out, "out") = nullptr;
    auto context = std::make_unique<Context>(&engine_of(engine), settings);
    *out = reinterpret_cast<rts_context*>(context.release());
  });
}

static void testing_destroy_context(rts_context* context) {
  guarded_void([&] { delete reinterpret_cast<Context*>(context); });
}

static rts_status testing_execute(rts_context* context, const rts_execute_args* args,
                                  const rts_error_sink* err) {
  return guarded(err, [&] { context_of(context).execute(deref(args, "args")); });
}

static void testing_context_counters(rts_context* context, const rts_counter_sink* sink) {
  guarded_void([&] {
    if (context && sink) context_of(context).report_counters(*sink);
  });
}

static rts_status testing_device_alloc(rts_plugin* plugin, uint32_t device, uint64_t size,
                                       void** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    deref(out, "out") = nullptr;
    PluginState& state = state_of(plugin);
    state.check_device(device);
    *out = state.device_alloc(size);
  });
}

static void testing_device_free(rts_plugin* plugin, uint32_t /*device*/, void* ptr) {
  guarded_void([&] { state_of(plugin).device_free(ptr); });
}

static rts_status testing_device_copy(rts_plugin* plugin, uint32_t device, void* device_ptr,
                                      void* host_ptr, uint64_t size, int to_device,
                                      const rts_error_sink* err) {
  return guarded(err, [&] {
    PluginState& state = state_of(plugin);
    state.check_device(device);
    state.device_copy(device_ptr, host_ptr, size, to_device != 0);
  });
}

static rts_status testing_validate_settings(rts_engine* engine,
                                            const rts_runtime_settings* settings,
                                            const rts_error_sink* err) {
  return guarded(err, [&] {
    const Engine& e = engine_of(engine);
    const rts_runtime_settings& s = deref(settings, "settings");
    if (RTS_HAS_FIELD(&s, rts_runtime_settings, graph_capture) &&
        (static_cast<uint32_t>(s.kernel_specialization) > RTS_KERNEL_SPECIALIZATION_NONE ||
         static_cast<uint32_t>(s.graph_capture) > RTS_GRAPH_CAPTURE_WHOLE_GRAPH)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "validate_settings: unknown strategy value");
    }
    const Config config = e.plugin().config();
    if (config.fail_validate_settings) fail(RTS_ERROR_UNSUPPORTED, *config.fail_validate_settings);
  });
}

}  // extern "C"

const rts_plugin_api kTestingApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = kPluginId,
    .version = kPluginVersion,
    .init = &testing_init,
    .shutdown = &testing_shutdown,
    .device_count = &testing_device_count,
    .device_info = &testing_device_info,
    .query_node = &testing_query_node,
    .build_engine = &testing_build_engine,
    .serialize_engine = &testing_serialize_engine,
    .deserialize_engine = &testing_deserialize_engine,
    .engine_info = &testing_engine_info,
    .destroy_engine = &testing_destroy_engine,
    .create_context = &testing_create_context,
    .destroy_context = &testing_destroy_context,
    .execute = &testing_execute,
    .context_counters = &testing_context_counters,
    .device_alloc = &testing_device_alloc,
    .device_free = &testing_device_free,
    .device_copy = &testing_device_copy,
    .validate_settings = &testing_validate_settings,
};

}  // namespace rtscope_testing

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  return &rtscope_testing::kTestingApi;
}
