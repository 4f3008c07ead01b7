// A minimal rtscope backend plugin: elementwise `add` (equal shapes) and
// `relu` on f32 host tensors, on one CPU device. It shows the shape every
// plugin has: C++ objects behind opaque handles, one trampoline per table
// slot that catches everything and reports through the error sink, and
// rts_plugin_entry as the only exported symbol.
#include <rtscope/plugin_abi.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#ifndef SKELETON_VERSION
#define SKELETON_VERSION "0.0.0"
#endif

namespace skeleton {
namespace {

constexpr char kFingerprint[] = "skeleton/cpu/1";
// Runtime cache entry written at context creation (demonstrates get/put).
constexpr char kCacheKey[] = "skeleton.kernels";
constexpr char kCacheMagic[4] = {'S', 'K', 'L', '1'};

// A failure with the status it maps to; turned into a status at the boundary.
class Failure : public std::exception {
 public:
  Failure(rts_status status, std::string message) : status_(status), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  rts_status status() const { return status_; }

 private:
  rts_status status_;
  std::string message_;
};

[[noreturn]] void fail(rts_status status, const std::string& message) {
  throw Failure(status, "skeleton: " + message);
}

enum class Op { kAdd, kRelu };

bool op_from_name(const char* name, Op* op) {
  if (name && std::strcmp(name, "add") == 0) {
    *op = Op::kAdd;
  } else if (name && std::strcmp(name, "relu") == 0) {
    *op = Op::kRelu;
  } else {
    return false;
  }
  return true;
}

struct Plugin {
  const rts_host_api* host;
  uint32_t abi_minor;

  void log(rts_log_level level, const std::string& message) const {
    if (host && host->log) host->log(host->user, level, message.c_str());
  }
};

struct Node {
  Op op;
  std::vector<std::string> inputs;
  std::string output;
};

struct Buffer {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

struct Engine {
  Plugin* plugin = nullptr;
  std::list<std::string> names;  // storage for the rts_value names below
  std::vector<rts_value> inputs;
  std::vector<rts_value> outputs;
  std::vector<rts_alias> aliases;
  std::map<std::string, Buffer> constants;  // with their declared shapes
  std::vector<Node> nodes;

  rts_value keep(const rts_value& value) {
    rts_value copy = value;
    copy.name = names.emplace_back(value.name ? value.name : "").c_str();
    return copy;
  }
};

struct Context {
  const Engine* engine = nullptr;
  std::atomic<uint64_t> executes{0};
  bool cache_hit = false;
};

// A tensor during execute: f32 data and its shape.

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
    report(err, RTS_ERROR_OUT_OF_MEMORY, "skeleton: out of memory");
    return RTS_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    report(err, RTS_ERROR_INTERNAL, e.what());
    return RTS_ERROR_INTERNAL;
  } catch (...) {
    report(err, RTS_ERROR_INTERNAL, "skeleton: unknown internal error");
    return RTS_ERROR_INTERNAL;
  }
}

template <typename T>
T* check(T* ptr, const char* what) {
  if (!ptr) fail(RTS_ERROR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  return ptr;
}

bool same_shape(const rts_value& a, const rts_value& b) {
  if (a.rank != b.rank) return false;
  return std::equal(a.dims, a.dims + a.rank, b.dims);
}

uint64_t element_count(const std::vector<int64_t>& dims) {
  uint64_t count = 1;
  for (int64_t d : dims) count *= static_cast<uint64_t>(d);
  return count;
}

void answer_query(const rts_node& node, const rts_value* inputs, const rts_value* outputs,
                  rts_support* out) {
  out->supported = 0;
  out->needs_output_allocation = 0;
  Op op;
  if (!op_from_name(node.op, &op)) {
    out->detail = "skeleton provides add and relu only";
    return;
  }
  const uint32_t arity = op == Op::kAdd ? 2 : 1;
  if (node.n_inputs != arity || node.n_outputs != 1) {
    out->detail = "skeleton: unexpected number of inputs or outputs";
    return;
  }
  check(inputs, "inputs");
  check(outputs, "outputs");
  for (uint32_t i = 0; i < arity; ++i) {
    if (inputs[i].dtype != RTS_DTYPE_F32) {
      out->detail = "skeleton: f32 only";
      return;
    }
  }
  if (op == Op::kAdd && !same_shape(inputs[0], inputs[1])) {
    out->detail = "skeleton: add without broadcasting only";
    return;
  }
  out->supported = 1;
  out->detail = op == Op::kAdd ? "skeleton add" : "skeleton relu";
}

Engine* build(Plugin* plugin, const rts_graph& graph) {
  auto engine = std::make_unique<Engine>();
  engine->plugin = plugin;
  for (uint32_t i = 0; i < graph.n_inputs; ++i)
    engine->inputs.push_back(engine->keep(graph.inputs[i]));
  for (uint32_t i = 0; i < graph.n_outputs; ++i) {
    engine->outputs.push_back(engine->keep(graph.outputs[i]));
  }
  engine->aliases.assign(graph.aliases, graph.aliases + graph.n_aliases);
  // Constant data is valid only during build_engine: copy it.
  for (uint32_t i = 0; i < graph.n_constants; ++i) {
    const rts_constant& c = graph.constants[i];
    if (c.value.dtype != RTS_DTYPE_F32) fail(RTS_ERROR_UNSUPPORTED, "f32 constants only");
    const auto* data = static_cast<const float*>(c.data);
    Buffer& constant = engine->constants[c.value.name];
    // Keep the declared shape: a flattened [6] weight would not match the
    // [2, 3] input it is added to.
    constant.dims.assign(c.value.dims, c.value.dims + c.value.rank);
    constant.data.assign(data, data + c.size_bytes / sizeof(float));
  }
  // Declared shapes, so a graph that cannot run fails here, not at execute.
  std::map<std::string, const rts_value*> declared;
  for (uint32_t i = 0; i < graph.n_inputs; ++i) declared[graph.inputs[i].name] = &graph.inputs[i];
  for (uint32_t i = 0; i < graph.n_values; ++i) declared[graph.values[i].name] = &graph.values[i];
  for (uint32_t i = 0; i < graph.n_constants; ++i) {
    declared[graph.constants[i].value.name] = &graph.constants[i].value;
  }
  for (uint32_t n = 0; n < graph.n_nodes; ++n) {
    const rts_node& node = graph.nodes[n];
    Node copy;
    if (!op_from_name(node.op, &copy.op)) {
      fail(RTS_ERROR_UNSUPPORTED, std::string("op not provided: ") + (node.op ? node.op : "?"));
    }
    if (copy.op == Op::kAdd && node.n_inputs == 2 && declared.count(node.inputs[0]) &&
        declared.count(node.inputs[1]) &&
        !same_shape(*declared[node.inputs[0]], *declared[node.inputs[1]])) {
      fail(RTS_ERROR_INVALID_ARGUMENT, std::string("add: inputs '") + node.inputs[0] + "' and '" +
                                           node.inputs[1] + "' differ in shape (no broadcasting)");
    }
    copy.inputs.assign(node.inputs, node.inputs + node.n_inputs);
    copy.output = node.outputs[0];
    engine->nodes.push_back(std::move(copy));
  }
  return engine.release();
}

// Checks a cache entry before trusting it: whatever the store hands back is
// treated as untrusted bytes.
bool valid_cache_entry(const std::vector<unsigned char>& bytes) {
  return bytes.size() == sizeof kCacheMagic + sizeof(uint32_t) &&
         std::memcmp(bytes.data(), kCacheMagic, sizeof kCacheMagic) == 0;
}

void use_cache(Context& context, const rts_cache_store& cache) {
  if (!RTS_HAS_FIELD(&cache, rts_cache_store, put)) return;
  std::vector<unsigned char> bytes;
  rts_blob_sink sink{&bytes, [](void* user, const void* data, uint64_t size) -> int {
                       auto* out = static_cast<std::vector<unsigned char>*>(user);
                       const auto* begin = static_cast<const unsigned char*>(data);
                       out->assign(begin, begin + size);
                       return 0;
                     }};
  if (cache.get(cache.user, kFingerprint, kCacheKey, &sink) == RTS_OK && valid_cache_entry(bytes)) {
    context.cache_hit = true;
    return;
  }
  unsigned char entry[sizeof kCacheMagic + sizeof(uint32_t)] = {};
  std::memcpy(entry, kCacheMagic, sizeof kCacheMagic);
  const auto ops = static_cast<uint32_t>(context.engine->nodes.size());
  std::memcpy(entry + sizeof kCacheMagic, &ops, sizeof ops);
  cache.put(cache.user, kFingerprint, kCacheKey, entry, sizeof entry);  // best effort
}

const Buffer& lookup(const std::map<std::string, Buffer>& values, const std::string& name) {
  const auto it = values.find(name);
  if (it == values.end()) fail(RTS_ERROR_INVALID_ARGUMENT, "value '" + name + "' not bound");
  return it->second;
}

void run(Context& context, const rts_execute_args& args) {
  const Engine& engine = *context.engine;
  if (args.n_inputs != engine.inputs.size() || args.n_outputs != engine.outputs.size()) {
    fail(RTS_ERROR_INVALID_ARGUMENT, "wrong number of bindings");
  }
  std::map<std::string, Buffer> values;
  for (const auto& [name, constant] : engine.constants) values[name] = constant;
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& t = args.inputs[i];
    if (t.dtype != RTS_DTYPE_F32 || t.residency != RTS_RESIDENCY_HOST || t.rank > RTS_MAX_RANK) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "inputs must be f32 host tensors");
    }
    if (!t.name || std::strcmp(t.name, engine.inputs[i].name) != 0) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "input " + std::to_string(i) + " is bound as '" +
                                           (t.name ? t.name : "(null)") + "', the engine's is '" +
                                           engine.inputs[i].name + "'");
    }
    Buffer& buffer = values[engine.inputs[i].name];
    buffer.dims.assign(t.dims, t.dims + t.rank);
    const uint64_t count = element_count(buffer.dims);
    if (!t.data || t.size_bytes < count * sizeof(float)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "input storage too small");
    }
    const auto* data = static_cast<const float*>(t.data);
    buffer.data.assign(data, data + count);
  }
  for (const Node& node : engine.nodes) {
    Buffer result = lookup(values, node.inputs[0]);
    if (node.op == Op::kAdd) {
      const Buffer& b = lookup(values, node.inputs[1]);
      if (b.dims != result.dims) fail(RTS_ERROR_INVALID_ARGUMENT, "add: shapes differ");
      for (std::size_t e = 0; e < result.data.size(); ++e) result.data[e] += b.data[e];
    } else {
      for (float& v : result.data) v = std::max(v, 0.0f);
    }
    values[node.output] = std::move(result);
  }
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const Buffer& result = lookup(values, engine.outputs[o].name);
    rts_tensor& out = args.outputs[o];
    out.dtype = RTS_DTYPE_F32;
    out.rank = static_cast<uint32_t>(result.dims.size());
    std::copy(result.dims.begin(), result.dims.end(), out.dims);
    const uint64_t bytes = result.data.size() * sizeof(float);
    if (!out.data || out.size_bytes < bytes) {
      if (!args.allocator || args.allocator->allocate(args.allocator->user, o, &out) != 0) {
        fail(RTS_ERROR_OUT_OF_MEMORY,
             "no storage for output '" + std::string(engine.outputs[o].name) + "'");
      }
    }
    if (out.residency != RTS_RESIDENCY_HOST) fail(RTS_ERROR_UNSUPPORTED, "host outputs only");
    std::memcpy(out.data, result.data.data(), bytes);
  }
  context.executes.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

// C language linkage so the table holds genuine C function pointers; static
// so that nothing but rts_plugin_entry is visible.
extern "C" {

static rts_status skeleton_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                                const rts_error_sink* err) {
  return guarded(err, [&] {
    *check(out, "out") = nullptr;
    auto* plugin = new Plugin{host, abi_minor};
    plugin->log(RTS_LOG_DEBUG, "skeleton: initialized, ABI minor " + std::to_string(abi_minor));
    *out = reinterpret_cast<rts_plugin*>(plugin);
  });
}

static void skeleton_shutdown(rts_plugin* plugin) { delete reinterpret_cast<Plugin*>(plugin); }

static uint32_t skeleton_device_count(rts_plugin* /*plugin*/) { return 1; }

static rts_status skeleton_device_info(rts_plugin* plugin, uint32_t device, rts_device_info* out,
                                       const rts_error_sink* err) {
  return guarded(err, [&] {
    check(plugin, "plugin");
    if (device != 0) fail(RTS_ERROR_INVALID_ARGUMENT, "no device " + std::to_string(device));
    if (!out || !RTS_HAS_FIELD(out, rts_device_info, fingerprint)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "device_info: out is NULL or too small");
    }
    const uint32_t size = out->struct_size;
    std::memset(static_cast<void*>(out), 0, std::min<std::size_t>(size, sizeof *out));
    out->struct_size = size;
    std::snprintf(out->name, sizeof out->name, "%s", "skeleton CPU");
    out->kind = RTS_DEVICE_CPU;
    out->driver_version = 1;
    std::snprintf(out->fingerprint, sizeof out->fingerprint, "%s", kFingerprint);
  });
}

static rts_status skeleton_query_node(rts_plugin* plugin, uint32_t device, const rts_node* node,
                                      const rts_value* inputs, const rts_value* outputs,
                                      rts_support* out, const rts_error_sink* err) {
  return guarded(err, [&] {
    check(plugin, "plugin");
    if (device != 0) fail(RTS_ERROR_INVALID_ARGUMENT, "no device " + std::to_string(device));
    if (!node || !RTS_HAS_FIELD(node, rts_node, n_attrs)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "query_node: node is NULL or too small");
    }
    if (!out || !RTS_HAS_FIELD(out, rts_support, detail)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "query_node: out is NULL or too small");
    }
    answer_query(*node, inputs, outputs, out);
  });
}

static rts_status skeleton_build_engine(rts_plugin* plugin, uint32_t device, const rts_graph* graph,
                                        rts_engine** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    *check(out, "out") = nullptr;
    if (device != 0) fail(RTS_ERROR_INVALID_ARGUMENT, "no device " + std::to_string(device));
    if (!graph || !RTS_HAS_FIELD(graph, rts_graph, n_aliases)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "build_engine: graph is NULL or too small");
    }
    *out = reinterpret_cast<rts_engine*>(
        build(check(reinterpret_cast<Plugin*>(plugin), "plugin"), *graph));
  });
}

static rts_status skeleton_serialize_engine(rts_engine* /*engine*/, const rts_blob_sink* /*sink*/,
                                            const rts_error_sink* err) {
  return guarded(err, [] { fail(RTS_ERROR_UNSUPPORTED, "engine files are not supported"); });
}

static rts_status skeleton_deserialize_engine(rts_plugin* /*plugin*/, uint32_t /*device*/,
                                              const void* /*data*/, uint64_t /*size*/,
                                              rts_engine** out, const rts_error_sink* err) {
  if (out) *out = nullptr;
  return guarded(err, [] { fail(RTS_ERROR_UNSUPPORTED, "engine files are not supported"); });
}

static rts_status skeleton_engine_info(rts_engine* engine, rts_engine_info* out,
                                       const rts_error_sink* err) {
  return guarded(err, [&] {
    const Engine& e = *check(reinterpret_cast<Engine*>(engine), "engine");
    if (!out || !RTS_HAS_FIELD(out, rts_engine_info, needs_output_allocation)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "engine_info: out is NULL or too small");
    }
    out->inputs = e.inputs.data();
    out->n_inputs = static_cast<uint32_t>(e.inputs.size());
    out->outputs = e.outputs.data();
    out->n_outputs = static_cast<uint32_t>(e.outputs.size());
    out->aliases = e.aliases.data();
    out->n_aliases = static_cast<uint32_t>(e.aliases.size());
    out->needs_output_allocation = 0;
  });
}

static void skeleton_destroy_engine(rts_engine* engine) {
  delete reinterpret_cast<Engine*>(engine);
}

static rts_status skeleton_create_context(rts_engine* engine, const rts_runtime_settings* settings,
                                          rts_context** out, const rts_error_sink* err) {
  return guarded(err, [&] {
    *check(out, "out") = nullptr;
    auto context = std::make_unique<Context>();
    context->engine = check(reinterpret_cast<Engine*>(engine), "engine");
    if (settings && RTS_HAS_FIELD(settings, rts_runtime_settings, cache) && settings->cache) {
      use_cache(*context, *settings->cache);
    }
    *out = reinterpret_cast<rts_context*>(context.release());
  });
}

static void skeleton_destroy_context(rts_context* context) {
  delete reinterpret_cast<Context*>(context);
}

static rts_status skeleton_execute(rts_context* context, const rts_execute_args* args,
                                   const rts_error_sink* err) {
  return guarded(err, [&] {
    Context& c = *check(reinterpret_cast<Context*>(context), "context");
    if (!args || !RTS_HAS_FIELD(args, rts_execute_args, allocator)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "execute: args is NULL or too small");
    }
    run(c, *args);
  });
}

static void skeleton_context_counters(rts_context* context, const rts_counter_sink* sink) {
  const auto* c = reinterpret_cast<const Context*>(context);
  if (!c || !sink || !sink->counter) return;
  sink->counter(sink->user, "executes", c->executes.load(std::memory_order_relaxed));
  sink->counter(sink->user, "cache_hits", c->cache_hit ? 1 : 0);
}

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  static const rts_plugin_api api = {
      sizeof(rts_plugin_api),
      RTS_ABI_VERSION_MAJOR,
      RTS_ABI_VERSION_MINOR,
      "skeleton",
      SKELETON_VERSION,
      skeleton_init,
      skeleton_shutdown,
      skeleton_device_count,
      skeleton_device_info,
      skeleton_query_node,
      skeleton_build_engine,
      skeleton_serialize_engine,
      skeleton_deserialize_engine,
      skeleton_engine_info,
      skeleton_destroy_engine,
      skeleton_create_context,
      skeleton_destroy_context,
      skeleton_execute,
      skeleton_context_counters,
      nullptr,  // device_alloc: host memory only
      nullptr,  // device_free
      nullptr,  // device_copy
      nullptr,  // validate_settings: every setting is accepted
  };
  return &api;
}

}  // extern "C"

}  // namespace skeleton
