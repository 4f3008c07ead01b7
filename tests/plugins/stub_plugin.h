/* Slots shared by the deliberately broken test plugins: a plugin with one
 * virtual device that supports no op. Each file includes it once, so the
 * functions are static there. Plugins hold no state: the instance handle
 * is the address of a static object. */
#ifndef RTSCOPE_TEST_STUB_PLUGIN_H
#define RTSCOPE_TEST_STUB_PLUGIN_H

#include "stub_device.h"

static rts_status stub_query_node(rts_plugin* plugin, uint32_t device, const rts_node* node,
                                  const rts_value* inputs, const rts_value* outputs,
                                  rts_support* out, const rts_error_sink* err) {
  (void)plugin;
  (void)device;
  (void)node;
  (void)inputs;
  (void)outputs;
  (void)err;
  out->supported = 0;
  out->needs_output_allocation = 0;
  out->detail = "stub plugin provides no ops";
  return RTS_OK;
}

static rts_status stub_unsupported(const rts_error_sink* err) {
  stub_report(err, RTS_ERROR_UNSUPPORTED, "stub plugin provides no ops");
  return RTS_ERROR_UNSUPPORTED;
}

static rts_status stub_build_engine(rts_plugin* plugin, uint32_t device, const rts_graph* graph,
                                    rts_engine** out, const rts_error_sink* err) {
  (void)plugin;
  (void)device;
  (void)graph;
  *out = NULL;
  return stub_unsupported(err);
}

static rts_status stub_serialize_engine(rts_engine* engine, const rts_blob_sink* sink,
                                        const rts_error_sink* err) {
  (void)engine;
  (void)sink;
  return stub_unsupported(err);
}

static rts_status stub_deserialize_engine(rts_plugin* plugin, uint32_t device, const void* data,
                                          uint64_t size, rts_engine** out,
                                          const rts_error_sink* err) {
  (void)plugin;
  (void)device;
  (void)data;
  (void)size;
  *out = NULL;
  return stub_unsupported(err);
}

static rts_status stub_engine_info(rts_engine* engine, rts_engine_info* out,
                                   const rts_error_sink* err) {
  (void)engine;
  (void)out;
  return stub_unsupported(err);
}

static void stub_destroy_engine(rts_engine* engine) { (void)engine; }

static rts_status stub_create_context(rts_engine* engine, const rts_runtime_settings* settings,
                                      rts_context** out, const rts_error_sink* err) {
  (void)engine;
  (void)settings;
  *out = NULL;
  return stub_unsupported(err);
}

static void stub_destroy_context(rts_context* context) { (void)context; }

static rts_status stub_execute(rts_context* context, const rts_execute_args* args,
                               const rts_error_sink* err) {
  (void)context;
  (void)args;
  return stub_unsupported(err);
}

/* Every slot but init, which each plugin file supplies (STUB_INIT_SLOT). */
#define STUB_PLUGIN_SLOTS                                                                        \
  .shutdown = stub_shutdown, .device_count = stub_device_count, .device_info = stub_device_info, \
  .query_node = stub_query_node, .build_engine = stub_build_engine,                              \
  .serialize_engine = stub_serialize_engine, .deserialize_engine = stub_deserialize_engine,      \
  .engine_info = stub_engine_info, .destroy_engine = stub_destroy_engine,                        \
  .create_context = stub_create_context, .destroy_context = stub_destroy_context,                \
  .execute = stub_execute, .context_counters = stub_context_counters, .device_alloc = NULL,      \
  .device_free = NULL, .device_copy = NULL

/* The init slot: a stub's init needs none of the host's arguments, so the
 * slot forwards to the plugin file's `init_fn(out, err)`. */
#define STUB_INIT_SLOT(init_fn)                                                                    \
  static rts_status stub_init_slot(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out, \
                                   const rts_error_sink* err) {                                    \
    (void)host;                                                                                    \
    (void)abi_minor;                                                                               \
    return init_fn(out, err);                                                                      \
  }

/* The initializers of a stub plugin's table for ABI `major`, named
 * `plugin_id`, with STUB_INIT_SLOT's init. */
#define STUB_PLUGIN_TABLE(major, plugin_id)                                                        \
  .struct_size = sizeof(rts_plugin_api), .abi_major = (major), .abi_minor = RTS_ABI_VERSION_MINOR, \
  .id = (plugin_id), .version = "0.0.1", .init = stub_init_slot, STUB_PLUGIN_SLOTS

/* A whole stub plugin: init slot, table and entry point. Used without a
 * trailing semicolon (ISO C allows no empty declaration at file scope). */
#define STUB_PLUGIN_ENTRY(major, plugin_id, init_fn)                        \
  STUB_INIT_SLOT(init_fn)                                                   \
  static const rts_plugin_api kApi = {STUB_PLUGIN_TABLE(major, plugin_id)}; \
  RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }

#endif /* RTSCOPE_TEST_STUB_PLUGIN_H */
