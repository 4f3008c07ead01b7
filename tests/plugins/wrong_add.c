/* A plugin that loads and runs but breaks its contract, for the conformance
 * tool's failure path: it claims f32 `add` yet computes a + b + 0.5, and
 * its build_engine and execute fail without reporting a message. Engines
 * are heap objects; a context is its engine's address. */
#include <stdlib.h>

#define STUB_DEVICE_OWNER "wrong_add"
#include "stub_device.h"

#define WRONG_ADD_MAGIC 0x57414444u /* "WADD" */

typedef struct wrong_add_engine {
  uint32_t magic;
  uint32_t rank;
  int64_t dims[RTS_MAX_RANK];
  char names[3][64]; /* a, b, out */
  rts_value values[3];
} wrong_add_engine;

static int instance;

static rts_status wa_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                          const rts_error_sink* err) {
  (void)host;
  (void)abi_minor;
  (void)err;
  *out = (rts_plugin*)&instance;
  return RTS_OK;
}

static int same_static_f32(const rts_value* a, const rts_value* b) {
  uint32_t d;
  if (a->dtype != RTS_DTYPE_F32 || b->dtype != RTS_DTYPE_F32 || a->rank != b->rank) return 0;
  for (d = 0; d < a->rank; ++d)
    if (a->dims[d] < 0 || a->dims[d] != b->dims[d]) return 0;
  return 1;
}

static rts_status wa_query_node(rts_plugin* plugin, uint32_t device, const rts_node* node,
                                const rts_value* inputs, const rts_value* outputs, rts_support* out,
                                const rts_error_sink* err) {
  (void)plugin;
  (void)device;
  (void)err;
  out->supported = strcmp(node->op, "add") == 0 && node->n_inputs == 2 && node->n_outputs == 1 &&
                   same_static_f32(&inputs[0], &inputs[1]) &&
                   same_static_f32(&inputs[0], &outputs[0]);
  out->needs_output_allocation = 0;
  out->detail = out->supported ? "wrong_add:add" : "wrong_add: same-shape f32 add only";
  return RTS_OK;
}

static void set_value(wrong_add_engine* e, int i, const char* name) {
  snprintf(e->names[i], sizeof(e->names[i]), "%s", name ? name : "");
  memset(&e->values[i], 0, sizeof(e->values[i]));
  e->values[i].name = e->names[i];
  e->values[i].dtype = RTS_DTYPE_F32;
  e->values[i].rank = e->rank;
  memcpy(e->values[i].dims, e->dims, sizeof(e->dims));
  memcpy(e->values[i].min_dims, e->dims, sizeof(e->dims));
  memcpy(e->values[i].max_dims, e->dims, sizeof(e->dims));
}

static wrong_add_engine* new_engine(uint32_t rank, const int64_t* dims, const char* a,
                                    const char* b, const char* out) {
  wrong_add_engine* e = (wrong_add_engine*)calloc(1, sizeof(wrong_add_engine));
  if (!e) return NULL;
  e->magic = WRONG_ADD_MAGIC;
  e->rank = rank;
  memcpy(e->dims, dims, sizeof(int64_t) * rank);
  set_value(e, 0, a);
  set_value(e, 1, b);
  set_value(e, 2, out);
  return e;
}

/* The contract violation: failures return a status with no message. */
static rts_status wa_build_engine(rts_plugin* plugin, uint32_t device, const rts_graph* graph,
                                  rts_engine** out, const rts_error_sink* err) {
  const rts_node* node;
  (void)plugin;
  (void)device;
  (void)err;
  *out = NULL;
  if (graph->n_nodes != 1 || graph->n_inputs != 2 || graph->n_outputs != 1)
    return RTS_ERROR_UNSUPPORTED;
  node = &graph->nodes[0];
  if (strcmp(node->op, "add") != 0) return RTS_ERROR_UNSUPPORTED;
  if (!same_static_f32(&graph->inputs[0], &graph->inputs[1]) ||
      !same_static_f32(&graph->inputs[0], &graph->outputs[0]))
    return RTS_ERROR_INVALID_ARGUMENT;
  *out =
      (rts_engine*)new_engine(graph->inputs[0].rank, graph->inputs[0].dims, graph->inputs[0].name,
                              graph->inputs[1].name, graph->outputs[0].name);
  return *out ? RTS_OK : RTS_ERROR_OUT_OF_MEMORY;
}

static rts_status wa_serialize_engine(rts_engine* engine, const rts_blob_sink* sink,
                                      const rts_error_sink* err) {
  const wrong_add_engine* e = (const wrong_add_engine*)engine;
  if (sink->write(sink->user, e, sizeof(*e)) != 0) {
    stub_report(err, RTS_ERROR_INTERNAL, "wrong_add: the blob sink refused the engine");
    return RTS_ERROR_INTERNAL;
  }
  return RTS_OK;
}

static rts_status wa_deserialize_engine(rts_plugin* plugin, uint32_t device, const void* data,
                                        uint64_t size, rts_engine** out,
                                        const rts_error_sink* err) {
  wrong_add_engine blob;
  (void)plugin;
  (void)device;
  *out = NULL;
  if (size != sizeof(blob)) {
    stub_report(err, RTS_ERROR_VERSION, "wrong_add: engine blob has the wrong size");
    return RTS_ERROR_VERSION;
  }
  memcpy(&blob, data, sizeof(blob));
  if (blob.magic != WRONG_ADD_MAGIC || blob.rank > RTS_MAX_RANK) {
    stub_report(err, RTS_ERROR_VERSION, "wrong_add: not a wrong_add engine blob");
    return RTS_ERROR_VERSION;
  }
  blob.names[0][63] = blob.names[1][63] = blob.names[2][63] = '\0';
  *out = (rts_engine*)new_engine(blob.rank, blob.dims, blob.names[0], blob.names[1], blob.names[2]);
  return *out ? RTS_OK : RTS_ERROR_OUT_OF_MEMORY;
}

static rts_status wa_engine_info(rts_engine* engine, rts_engine_info* out,
                                 const rts_error_sink* err) {
  wrong_add_engine* e = (wrong_add_engine*)engine;
  (void)err;
  out->inputs = e->values;
  out->n_inputs = 2;
  out->outputs = &e->values[2];
  out->n_outputs = 1;
  out->aliases = NULL;
  out->n_aliases = 0;
  out->needs_output_allocation = 0;
  return RTS_OK;
}

static void wa_destroy_engine(rts_engine* engine) { free(engine); }

static rts_status wa_create_context(rts_engine* engine, const rts_runtime_settings* settings,
                                    rts_context** out, const rts_error_sink* err) {
  (void)settings;
  (void)err;
  *out = (rts_context*)engine;
  return RTS_OK;
}

static void wa_destroy_context(rts_context* context) { (void)context; }

static int64_t element_count(const wrong_add_engine* e) {
  int64_t n = 1;
  uint32_t d;
  for (d = 0; d < e->rank; ++d) n *= e->dims[d];
  return n;
}

static rts_status wa_execute(rts_context* context, const rts_execute_args* args,
                             const rts_error_sink* err) {
  const wrong_add_engine* e = (const wrong_add_engine*)context;
  const int64_t n = element_count(e);
  const uint64_t bytes = (uint64_t)n * sizeof(float);
  const float* a;
  const float* b;
  float* y;
  int64_t i;
  uint32_t k;
  (void)err;
  if (args->n_inputs != 2 || args->n_outputs != 1) return RTS_ERROR_INVALID_ARGUMENT;
  for (k = 0; k < 2; ++k) {
    if (strcmp(args->inputs[k].name, e->names[k]) != 0 || args->inputs[k].size_bytes < bytes)
      return RTS_ERROR_INVALID_ARGUMENT;
  }
  if (!args->outputs[0].data || args->outputs[0].size_bytes < bytes)
    return RTS_ERROR_INVALID_ARGUMENT;
  a = (const float*)args->inputs[0].data;
  b = (const float*)args->inputs[1].data;
  y = (float*)args->outputs[0].data;
  for (i = 0; i < n; ++i) y[i] = a[i] + b[i] + 0.5f;
  args->outputs[0].dtype = RTS_DTYPE_F32;
  args->outputs[0].rank = e->rank;
  memcpy(args->outputs[0].dims, e->dims, sizeof(e->dims));
  return RTS_OK;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "wrong_add",
    .version = "0.0.1",
    .init = wa_init,
    .shutdown = stub_shutdown,
    .device_count = stub_device_count,
    .device_info = stub_device_info,
    .query_node = wa_query_node,
    .build_engine = wa_build_engine,
    .serialize_engine = wa_serialize_engine,
    .deserialize_engine = wa_deserialize_engine,
    .engine_info = wa_engine_info,
    .destroy_engine = wa_destroy_engine,
    .create_context = wa_create_context,
    .destroy_context = wa_destroy_context,
    .execute = wa_execute,
    .context_counters = stub_context_counters,
    .device_alloc = NULL,
    .device_free = NULL,
    .device_copy = NULL,
    .validate_settings = NULL,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
