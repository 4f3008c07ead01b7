/* Slots shared by the deliberately broken test plugins: a plugin with one
 * virtual device that supports no op. Each file includes it once, so the
 * functions are static there. Plugins hold no state: the instance handle
 * is the address of a static object. */
#ifndef RTSCOPE_TEST_STUB_PLUGIN_H
#define RTSCOPE_TEST_STUB_PLUGIN_H

#include <stdio.h>
#include <string.h>

#include "rtscope/plugin_abi.h"

static void stub_report(const rts_error_sink* err, rts_status status, const char* message) {
  if (err && err->report) err->report(err->user, status, message);
}

static void stub_shutdown(rts_plugin* plugin) { (void)plugin; }

static uint32_t stub_device_count(rts_plugin* plugin) {
  (void)plugin;
  return 1;
}

static rts_status stub_device_info(rts_plugin* plugin, uint32_t device, rts_device_info* out,
                                   const rts_error_sink* err) {
  uint32_t size;
  (void)plugin;
  if (device != 0 || !out || !RTS_HAS_FIELD(out, rts_device_info, fingerprint)) {
    stub_report(err, RTS_ERROR_INVALID_ARGUMENT, "stub: bad device_info call");
    return RTS_ERROR_INVALID_ARGUMENT;
  }
  size = out->struct_size;
  memset(out, 0, sizeof(*out));
  out->struct_size = size;
  snprintf(out->name, sizeof(out->name), "%s", "stub virtual device");
  out->kind = RTS_DEVICE_VIRTUAL;
  snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", "stub/virtual/0");
  return RTS_OK;
}

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

static void stub_context_counters(rts_context* context, const rts_counter_sink* sink) {
  (void)context;
  (void)sink;
}

/* Every slot but init, which each plugin file supplies. */
#define STUB_PLUGIN_SLOTS                                                                        \
  .shutdown = stub_shutdown, .device_count = stub_device_count, .device_info = stub_device_info, \
  .query_node = stub_query_node, .build_engine = stub_build_engine,                              \
  .serialize_engine = stub_serialize_engine, .deserialize_engine = stub_deserialize_engine,      \
  .engine_info = stub_engine_info, .destroy_engine = stub_destroy_engine,                        \
  .create_context = stub_create_context, .destroy_context = stub_destroy_context,                \
  .execute = stub_execute, .context_counters = stub_context_counters, .device_alloc = NULL,      \
  .device_free = NULL, .device_copy = NULL

#endif /* RTSCOPE_TEST_STUB_PLUGIN_H */
