/*
 * rtscope plugin ABI — the one header a backend plugin is built against.
 *
 * A plugin is a shared library that exports exactly one symbol,
 * `rts_plugin_entry`, returning a static `rts_plugin_api` function table.
 * Everything else is reached through that table.
 *
 * Versioning
 *   - The major version must match exactly; the host rejects a plugin whose
 *     `abi_major` differs, naming both numbers and the file.
 *   - The minor version is negotiated as min(host, plugin) and passed to
 *     `init`. Every struct that crosses the boundary starts with `struct_size`;
 *     tables and structs only grow at the end. Before calling a slot added in
 *     a later minor version, the caller checks
 *     RTS_HAS_FIELD(table, rts_plugin_api, slot).
 *
 * Required slots
 *   Every slot named in RTS_REQUIRED_SLOTS below must be set (non-NULL);
 *   the host refuses to load a plugin that leaves one NULL, naming the file
 *   and the slot. A plugin that does not support a feature still sets the
 *   slot and returns RTS_ERROR_UNSUPPORTED. The other slots are optional:
 *   device_alloc, device_free and device_copy (all three or none), and
 *   validate_settings.
 *
 * Errors
 *   Functions return `rts_status`. A failing call describes the failure in
 *   one message through the `rts_error_sink` it was given (may be called at
 *   most once per call; the string is copied by the host during the call).
 *   No C++ exception ever crosses the boundary: plugin entry points catch
 *   everything and turn it into a status. (The host guards every call
 *   anyway: an exception that does escape becomes an error naming the
 *   plugin and slot, but the plugin's state afterwards is undefined.)
 *
 * Ownership
 *   An object is destroyed by the plugin that created it, through the
 *   matching destroy slot. Pointers handed into a call are valid only during
 *   that call unless the function comment says otherwise; the receiver copies
 *   what it keeps. Strings returned by the plugin in its table or in
 *   `rts_device_info`/`rts_engine_info` live as long as the object that
 *   returned them.
 *
 * Thread safety is stated for every slot: "thread-safe" means any thread may
 * call it concurrently with any other thread-safe slot on the same object;
 * "externally synchronized" means the host serializes calls on that object.
 */
#ifndef RTSCOPE_PLUGIN_ABI_H
#define RTSCOPE_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RTS_ABI_VERSION_MAJOR 1
#define RTS_ABI_VERSION_MINOR 2

/* The single exported symbol of every plugin. */
#define RTS_PLUGIN_ENTRY_SYMBOL "rts_plugin_entry"

#if defined(_WIN32)
#define RTS_PLUGIN_EXPORT __declspec(dllexport)
#else
#define RTS_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* The slots of rts_plugin_api every plugin must set, as an X-macro:
 * RTS_REQUIRED_SLOTS(X) expands X(slot) once per required slot, in table
 * order. All of them exist since ABI 1.0. */
/* One slot per line; clang-format would reflow the list differently on
 * each pass. */
/* clang-format off */
#define RTS_REQUIRED_SLOTS(X) \
  X(init) \
  X(shutdown) \
  X(device_count) \
  X(device_info) \
  X(query_node) \
  X(build_engine) \
  X(serialize_engine) \
  X(deserialize_engine) \
  X(engine_info) \
  X(destroy_engine) \
  X(create_context) \
  X(destroy_context) \
  X(execute) \
  X(context_counters)
/* clang-format on */

/* Maximum tensor rank carried across the boundary. */
#define RTS_MAX_RANK 8

/* True when `ptr` (a struct starting with struct_size) is large enough to
 * hold `field`: use before touching a field or slot added in a later minor. */
#define RTS_HAS_FIELD(ptr, type, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

typedef enum rts_status {
  RTS_OK = 0,
  RTS_ERROR_INVALID_ARGUMENT = 1, /* bad shape, dtype, name or value */
  RTS_ERROR_UNSUPPORTED = 2,      /* op, dtype or feature not provided */
  RTS_ERROR_NOT_FOUND = 3,        /* cache miss, unknown binding */
  RTS_ERROR_OUT_OF_MEMORY = 4,
  RTS_ERROR_DEVICE = 5,  /* driver or device failure */
  RTS_ERROR_VERSION = 6, /* incompatible engine blob or ABI */
  RTS_ERROR_INTERNAL = 7
} rts_status;

typedef enum rts_dtype {
  RTS_DTYPE_F32 = 0,
  RTS_DTYPE_F16 = 1,
  RTS_DTYPE_I32 = 2,
  RTS_DTYPE_I64 = 3,
  RTS_DTYPE_BOOL = 4 /* one byte per element, 0 or 1 */
} rts_dtype;

/* Where tensor storage lives. HOST: ordinary process memory. DEVICE: memory
 * returned by the plugin's `device_alloc` for `device`. */
typedef enum rts_residency { RTS_RESIDENCY_HOST = 0, RTS_RESIDENCY_DEVICE = 1 } rts_residency;

typedef enum rts_log_level {
  RTS_LOG_TRACE = 0,
  RTS_LOG_DEBUG = 1,
  RTS_LOG_INFO = 2,
  RTS_LOG_WARN = 3,
  RTS_LOG_ERROR = 4
} rts_log_level;

typedef enum rts_device_kind {
  RTS_DEVICE_CPU = 0,
  RTS_DEVICE_GPU = 1,
  RTS_DEVICE_VIRTUAL = 2 /* simulated, e.g. the testing plugin */
} rts_device_kind;

/* Runtime strategy settings handed to a context at creation. */
typedef enum rts_kernel_specialization {
  RTS_KERNEL_SPECIALIZATION_LAZY = 0,
  RTS_KERNEL_SPECIALIZATION_EAGER = 1,
  RTS_KERNEL_SPECIALIZATION_NONE = 2
} rts_kernel_specialization;

typedef enum rts_graph_capture {
  RTS_GRAPH_CAPTURE_DISABLED = 0,
  RTS_GRAPH_CAPTURE_WHOLE_GRAPH = 1
} rts_graph_capture;

typedef enum rts_alias_kind {
  RTS_ALIAS_KV_CACHE_UPDATE = 0, /* in-place cache op */
  RTS_ALIAS_USER = 1             /* declared by the graph author */
} rts_alias_kind;

/* Opaque plugin objects. */
typedef struct rts_plugin rts_plugin;
typedef struct rts_engine rts_engine;
typedef struct rts_context rts_context;

/* ---------------------------------------------------------------------------
 * Host-provided callbacks
 * ------------------------------------------------------------------------- */

/* Receives the error message of a failing call. `message` is copied by the
 * host during the call. Thread-safe: each call gets its own sink. */
typedef struct rts_error_sink {
  void* user;
  void (*report)(void* user, rts_status status, const char* message);
} rts_error_sink;

/* Receives a blob; `data` is valid only during the callback. Returns 0 on
 * success, non-zero to abort (the producer then fails with that status). */
typedef struct rts_blob_sink {
  void* user;
  int (*write)(void* user, const void* data, uint64_t size);
} rts_blob_sink;

/* A keyed blob store the host lends a context (the shared runtime cache),
 * scoped to this plugin: entries are keyed by (plugin id, device fingerprint,
 * key). Handed over in rts_runtime_settings; valid until the context is
 * destroyed. Every slot is thread-safe. */
typedef struct rts_cache_store {
  uint32_t struct_size;
  void* user;

  /* On a hit calls `sink` once with the bytes (valid during the callback)
   * and returns RTS_OK; on a miss returns RTS_ERROR_NOT_FOUND without
   * calling it. The host validates stored bytes before handing them over. */
  rts_status (*get)(void* user, const char* device_fingerprint, const char* key,
                    const rts_blob_sink* sink);

  /* Stores `size` bytes; the host copies them during the call. A later put
   * of the same key replaces the entry. */
  rts_status (*put)(void* user, const char* device_fingerprint, const char* key, const void* data,
                    uint64_t size);
} rts_cache_store;

/* Services the host gives each plugin at `init`. The struct and its `user`
 * pointer stay valid until `shutdown` returns. Every slot is thread-safe. */
typedef struct rts_host_api {
  uint32_t struct_size;
  void* user;

  /* Logs one line. `message` is copied during the call. */
  void (*log)(void* user, rts_log_level level, const char* message);

  /* Since ABI 1.1 (check with RTS_HAS_FIELD): timed spans for the host's
   * trace (rtscope-run --trace), e.g. kernel compiles, capture, staging.
   * `trace_begin` returns a start timestamp, or 0 when the host is not
   * recording (then skip the span); pass a nonzero one to `trace_end` when
   * the work is done. `category` and `name` are copied during the call. Cheap
   * when not recording: one call and an atomic load. */
  uint64_t (*trace_begin)(void* user);
  void (*trace_end)(void* user, uint64_t begin, const char* category, const char* name);
} rts_host_api;

/* ---------------------------------------------------------------------------
 * Descriptions that cross the boundary
 * ------------------------------------------------------------------------- */

typedef struct rts_device_info {
  uint32_t struct_size;
  char name[128];
  rts_device_kind kind;
  uint32_t vendor_id;
  uint32_t device_id;
  uint64_t driver_version;
  uint8_t uuid[16];
  uint64_t memory_bytes;
  /* Stable identity of (hardware, driver) used to key cache entries. Two
   * runs on the same machine and driver produce the same string. */
  char fingerprint[128];
} rts_device_info;

/* A tensor declaration. A dim of -1 is dynamic, bounded by min_dims/max_dims
 * (which equal dims for static dims). */
typedef struct rts_value {
  const char* name;
  rts_dtype dtype;
  uint32_t rank;
  int64_t dims[RTS_MAX_RANK];
  int64_t min_dims[RTS_MAX_RANK];
  int64_t max_dims[RTS_MAX_RANK];
} rts_value;

typedef enum rts_attr_type {
  RTS_ATTR_INT = 0,
  RTS_ATTR_FLOAT = 1,
  RTS_ATTR_STRING = 2,
  RTS_ATTR_INTS = 3
} rts_attr_type;

typedef struct rts_attr {
  const char* name;
  rts_attr_type type;
  int64_t i;
  double f;
  const char* s;
  const int64_t* ints;
  uint32_t n_ints;
} rts_attr;

typedef struct rts_node {
  uint32_t struct_size;
  const char* name;
  const char* op;
  const char* const* inputs; /* value names; n_inputs of them */
  uint32_t n_inputs;
  const char* const* outputs;
  uint32_t n_outputs;
  const rts_attr* attrs;
  uint32_t n_attrs;
} rts_node;

/* Constant data (weights). `data` is valid only during `build_engine`,
 * unless the graph sets `constants_outlive_engine`. */
typedef struct rts_constant {
  rts_value value;
  const void* data;
  uint64_t size_bytes;
} rts_constant;

/* Output `output` shares storage with input `input` (in-place update).
 * The host signals in-place execution by binding the output's `data` to the
 * same pointer as the input's; a plugin that sees different pointers must
 * produce the output without relying on the alias (copy, then update). */
typedef struct rts_alias {
  uint32_t output;
  uint32_t input;
  rts_alias_kind kind;
} rts_alias;

/* A partition handed to `build_engine`. Nodes are in topological order.
 * `values` declares every tensor the nodes read or write that is not an
 * input or constant. All pointers are valid only during the call. */
typedef struct rts_graph {
  uint32_t struct_size;
  const char* name;
  const rts_value* inputs;
  uint32_t n_inputs;
  const rts_value* outputs;
  uint32_t n_outputs;
  const rts_constant* constants;
  uint32_t n_constants;
  const rts_value* values;
  uint32_t n_values;
  const rts_node* nodes;
  uint32_t n_nodes;
  const rts_alias* aliases; /* aliases the graph author declared */
  uint32_t n_aliases;
  /* Since ABI 1.2 (check with RTS_HAS_FIELD): non-zero when every
   * constant's `data` stays valid and unchanged until the engine built from
   * this graph is destroyed, so the plugin may read it later instead of
   * copying it at build (the host keeps its weights, e.g. a memory-mapped
   * checkpoint, alive for the engine). The memory may be read-only. */
  uint32_t constants_outlive_engine;
} rts_graph;

/* Answer of `query_node`. */
typedef struct rts_support {
  uint32_t struct_size;
  int supported; /* non-zero: the plugin can run this node */
  /* Non-zero when the kernel the plugin would pick for this node can only
   * size its output after running (e.g. nonzero). */
  int needs_output_allocation;
  /* Static string naming the chosen kernel or why unsupported; lives as
   * long as the plugin. May be NULL. */
  const char* detail;
} rts_support;

/* What an engine binds. Arrays live as long as the engine. */
typedef struct rts_engine_info {
  uint32_t struct_size;
  const rts_value* inputs;
  uint32_t n_inputs;
  const rts_value* outputs;
  uint32_t n_outputs;
  const rts_alias* aliases;
  uint32_t n_aliases;
  int needs_output_allocation;
} rts_engine_info;

typedef struct rts_runtime_settings {
  uint32_t struct_size;
  rts_kernel_specialization kernel_specialization;
  rts_graph_capture graph_capture;
  const rts_cache_store* cache; /* NULL: no runtime cache */
} rts_runtime_settings;

/* A tensor bound to an engine input or output at execute time. */
typedef struct rts_tensor {
  uint32_t struct_size;
  const char* name; /* engine binding name */
  rts_dtype dtype;
  uint32_t rank;
  int64_t dims[RTS_MAX_RANK];
  void* data;          /* may be NULL for an output: see rts_output_allocator */
  uint64_t size_bytes; /* capacity of `data` */
  rts_residency residency;
  uint32_t device;
} rts_tensor;

/* Storage for outputs whose binding has `data == NULL` or too small a
 * capacity. The plugin sets `tensor->dims/rank` to the real shape and calls
 * `allocate`, which fills `tensor->data`, `size_bytes` and `residency`.
 * Returns 0 on success. The host owns the memory. */
typedef struct rts_output_allocator {
  void* user;
  int (*allocate)(void* user, uint32_t output_index, rts_tensor* tensor);
} rts_output_allocator;

typedef struct rts_execute_args {
  uint32_t struct_size;
  const rts_tensor* inputs; /* in engine input order */
  uint32_t n_inputs;
  rts_tensor* outputs; /* in engine output order; the plugin writes dtype,
                          rank and dims of each before returning */
  uint32_t n_outputs;
  const rts_output_allocator* allocator;
} rts_execute_args;

/* Receives one named counter; `name` is valid during the callback. */
typedef struct rts_counter_sink {
  void* user;
  void (*counter)(void* user, const char* name, uint64_t value);
} rts_counter_sink;

/* ---------------------------------------------------------------------------
 * The plugin function table
 * ------------------------------------------------------------------------- */

typedef struct rts_plugin_api {
  uint32_t struct_size;
  uint32_t abi_major; /* RTS_ABI_VERSION_MAJOR the plugin was built with */
  uint32_t abi_minor;
  const char* id;      /* short unique name, e.g. "cpu"; static */
  const char* version; /* plugin version, e.g. "0.1.0"; static */

  /* Creates the plugin instance. `host` stays valid until `shutdown`.
   * `abi_minor` is the negotiated minor. Called once per load; not
   * thread-safe. */
  rts_status (*init)(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                     const rts_error_sink* err);

  /* Destroys the instance after every engine and context made from it is
   * destroyed. Not thread-safe. */
  void (*shutdown)(rts_plugin* plugin);

  /* Number of devices. Thread-safe. */
  uint32_t (*device_count)(rts_plugin* plugin);

  /* Fills `out` (caller sets struct_size). Thread-safe. */
  rts_status (*device_info)(rts_plugin* plugin, uint32_t device, rts_device_info* out,
                            const rts_error_sink* err);

  /* Says whether `node` (whose input and output declarations are given in
   * order) can run on `device`, and whether its kernel needs a data-dependent
   * output allocation. Returns RTS_OK whether or not supported. Thread-safe. */
  rts_status (*query_node)(rts_plugin* plugin, uint32_t device, const rts_node* node,
                           const rts_value* inputs, const rts_value* outputs, rts_support* out,
                           const rts_error_sink* err);

  /* Compiles a partition into an engine. Thread-safe (distinct engines). */
  rts_status (*build_engine)(rts_plugin* plugin, uint32_t device, const rts_graph* graph,
                             rts_engine** out, const rts_error_sink* err);

  /* Writes the engine's blob through `sink`. Thread-safe. */
  rts_status (*serialize_engine)(rts_engine* engine, const rts_blob_sink* sink,
                                 const rts_error_sink* err);

  /* Re-creates an engine from a blob written by `serialize_engine` of the
   * same plugin id and version. `data` is valid only during the call.
   * Thread-safe. */
  rts_status (*deserialize_engine)(rts_plugin* plugin, uint32_t device, const void* data,
                                   uint64_t size, rts_engine** out, const rts_error_sink* err);

  /* Fills `out` (caller sets struct_size); arrays live as long as the
   * engine. Thread-safe. */
  rts_status (*engine_info)(rts_engine* engine, rts_engine_info* out, const rts_error_sink* err);

  /* Externally synchronized: no context of the engine may exist. */
  void (*destroy_engine)(rts_engine* engine);

  /* Creates an execution context with the given settings (the costly step:
   * kernel compilation and tuning happen here or lazily after it).
   * Thread-safe (the engine is shared read-only by its contexts). */
  rts_status (*create_context)(rts_engine* engine, const rts_runtime_settings* settings,
                               rts_context** out, const rts_error_sink* err);

  /* Externally synchronized: no execute of the context may be in flight. */
  void (*destroy_context)(rts_context* context);

  /* Runs the engine. Inputs are read-only except those an alias maps an
   * output onto. Externally synchronized per context; distinct contexts
   * may execute concurrently. */
  rts_status (*execute)(rts_context* context, const rts_execute_args* args,
                        const rts_error_sink* err);

  /* Reports plugin-defined counters of a context (kernels run, replays...).
   * Thread-safe with respect to execute. */
  void (*context_counters)(rts_context* context, const rts_counter_sink* sink);

  /* Optional (may be NULL, then only host residency is accepted). Device
   * memory for tensors that stay on the device between executes.
   * Thread-safe. */
  rts_status (*device_alloc)(rts_plugin* plugin, uint32_t device, uint64_t size, void** out,
                             const rts_error_sink* err);
  void (*device_free)(rts_plugin* plugin, uint32_t device, void* ptr);
  /* Copies between host memory and device memory from device_alloc.
   * `to_device` non-zero copies host→device. Thread-safe. */
  rts_status (*device_copy)(rts_plugin* plugin, uint32_t device, void* device_ptr, void* host_ptr,
                            uint64_t size, int to_device, const rts_error_sink* err);

  /* Optional (may be NULL: every setting is accepted). Says whether the
   * engine can run with `settings`, so a bad combination fails when it is
   * applied rather than at the next execute. Thread-safe. */
  rts_status (*validate_settings)(rts_engine* engine, const rts_runtime_settings* settings,
                                  const rts_error_sink* err);
} rts_plugin_api;

/* The entry point every plugin exports. Returns a table with static storage
 * duration; never NULL. Thread-safe. */
typedef const rts_plugin_api* (*rts_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RTSCOPE_PLUGIN_ABI_H */
