// The C++ interface a backend implements. The kit turns it into the C
// function table of plugin_abi.h (rtscope/kit/plugin_api.hpp): a backend
// derives its plugin from Backend, its engines from Engine and its
// contexts from Context, and never sees an rts_* handle or a trampoline.
//
// A Backend subclass also declares, for the function table:
//   static constexpr EngineBlobFormat kFormat;  // id ("cpu"), version, blob magic
//   static constexpr bool kDeviceMemory;        // implements device_alloc/free/copy
//   B(const rts_host_api* host, uint32_t abi_minor);
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "rtscope/kit/engine_blob.hpp"
#include "rtscope/kit/error.hpp"
#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

class Backend;

// An execution context (rts_context): runs its engine on bound tensors.
class Context {
 public:
  virtual ~Context() = default;
  // Externally synchronized; throws Error.
  virtual void execute(const rts_execute_args& args) = 0;
  // Thread-safe with respect to execute.
  virtual void report_counters(const rts_counter_sink& sink) const = 0;
};

// A built engine (rts_engine): immutable, shared by its contexts.
class Engine {
 public:
  explicit Engine(const Backend& backend) : backend_(backend) {}
  virtual ~Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The graph the engine was built from: what the engine blob stores.
  virtual const GraphDesc& graph() const = 0;
  virtual void fill_info(rts_engine_info& info) const = 0;
  virtual std::unique_ptr<Context> create_context(const rts_runtime_settings* settings) const = 0;
  // Checks settings before a context is created; the default refuses only
  // values outside the enums (read_settings).
  virtual void validate_settings(const rts_runtime_settings* settings) const;
  // Writes the engine blob of graph() in the backend's format.
  void serialize(const rts_blob_sink& sink) const;

 private:
  const Backend& backend_;
};

// The plugin instance (rts_plugin): host services and the devices.
class Backend {
 public:
  // `host` may be NULL (then nothing is logged); it stays valid until the
  // plugin is destroyed. `format` names the backend and its blobs.
  Backend(const rts_host_api* host, uint32_t abi_minor, const EngineBlobFormat& format)
      : host_(host), abi_minor_(abi_minor), format_(format) {}
  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const char* name() const { return format_.backend; }
  const EngineBlobFormat& blob_format() const { return format_; }
  const rts_host_api* host() const { return host_; }
  uint32_t abi_minor() const { return abi_minor_; }
  // Passes `message` to the host's logger, if it has one. Thread-safe.
  void log(rts_log_level level, const std::string& message) const;
  // A copy of `text` that lives as long as the plugin, for the strings
  // query_node hands out. Thread-safe.
  const char* intern(const std::string& text);

  virtual uint32_t device_count() const = 0;
  // Throws Error naming the valid range for a bad index; every call taking
  // a device index checks it here first.
  virtual const rts_device_info& device_info(uint32_t device) const = 0;
  // Whether `node` (with its input and, if given, output types) runs on
  // `device`; the kit sets struct_size. Unsupported is an answer, not an
  // error: throw only for arguments that make no sense.
  virtual rts_support query_node(uint32_t device, const NodeDesc& node, const rts_value* inputs,
                                 const rts_value* outputs) = 0;
  virtual std::unique_ptr<Engine> build_engine(uint32_t device, GraphDesc graph) = 0;
  // The default reads the blob (blob_format()) and builds from its graph.
  virtual std::unique_ptr<Engine> deserialize_engine(uint32_t device, const void* data,
                                                     uint64_t size);

  // Device memory, only for a backend with kDeviceMemory; the defaults
  // refuse (RTS_ERROR_UNSUPPORTED).
  virtual void* device_alloc(uint32_t device, uint64_t size);
  virtual void device_free(uint32_t device, void* ptr);
  virtual void device_copy(uint32_t device, void* device_ptr, void* host_ptr, uint64_t size,
                           bool to_device);

  // "cpu: matmul: <reason>", interned: the detail of an unsupported node.
  const char* refusal(const NodeDesc& node, const std::string& reason) {
    return intern(str_cat(name(), ": ", node.op, ": ", reason));
  }

 private:
  const rts_host_api* host_;
  uint32_t abi_minor_;
  EngineBlobFormat format_;
  std::mutex interned_mutex_;
  std::set<std::string> interned_;
};

// A backend with one device, described once at construction (cpu,
// testing): device_count is 1 and device_info refuses any other index.
class OneDeviceBackend : public Backend {
 public:
  OneDeviceBackend(const rts_host_api* host, uint32_t abi_minor, const EngineBlobFormat& format,
                   const rts_device_info& device)
      : Backend(host, abi_minor, format), device_(device) {}

  const rts_device_info& device() const { return device_; }
  uint32_t device_count() const final { return 1; }
  const rts_device_info& device_info(uint32_t device) const final;

 private:
  rts_device_info device_;
};

// For query_node: with every input dim known, runs `infer(input_dims,
// output_dims)` (the op's shape inference) so that a shape the op rejects
// is reported at query time. Returns the Error's message without the node
// label it starts with, or "" when the shapes pass or are not all known.
template <typename Infer>
std::string static_shape_error(const NodeDesc& desc, const rts_value* inputs, Infer&& infer) {
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
    infer(std::span<const Dims* const>(input_dims), std::span<Dims>(output_dims));
  } catch (const Error& error) {
    const std::string message = error.what();
    const std::string label = desc.label() + ": ";
    return message.rfind(label, 0) == 0 ? message.substr(label.size()) : message;
  }
  return {};
}

// The checks of query_node that follow a backend's own (op, dtypes,
// attributes), once those passed: exactly one output, its declared dtype (if
// the host gave `outputs`) against `produced()`, then the static shapes
// through `infer` (static_shape_error). Returns why the node is refused, or
// "" when it is not.
template <typename Produced, typename Infer>
std::string check_queried_outputs(const NodeDesc& desc, const rts_value* inputs,
                                  const rts_value* outputs, Produced&& produced, Infer&& infer) {
  if (desc.outputs.size() != 1) return str_cat("expects 1 output, got ", desc.outputs.size());
  if (outputs != nullptr && outputs[0].dtype != produced()) {
    return str_cat("output is declared ", dtype_name(outputs[0].dtype), " but ", desc.op,
                   " produces ", dtype_name(produced()));
  }
  return static_shape_error(desc, inputs, infer);
}

}  // namespace rtscope::kit
