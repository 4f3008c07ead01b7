#include "rtscope/conformance/abi_harness.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "abi_graph.hpp"
#include "rtscope/conformance/tolerance.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::conformance {

ErrorCapture::ErrorCapture() {
  sink_.user = this;
  sink_.report = &ErrorCapture::report;
}

void ErrorCapture::report(void* user, rts_status status, const char* message) {
  auto* self = static_cast<ErrorCapture*>(user);
  ++self->reports_;
  self->reported_status_ = status;
  self->message_ = message ? message : "";
}

void ErrorCapture::require_ok(rts_status status, const std::string& slot) const {
  if (status == RTS_OK) return;
  std::string text = slot + " failed: ";
  text += message_.empty() ? "(no message reported)" : message_;
  throw CallFailure(text + " (status " + std::to_string(int(status)) + ")");
}

CaseGraph::CaseGraph(const OpCase& op_case, DType dtype)
    : op_case_(&op_case), dtype_(dtype), graph_(single_op_graph(op_case, dtype)) {
  partition_.nodes = {0};
  for (const auto& in : graph_.inputs) partition_.inputs.push_back(in.name);
  partition_.outputs = graph_.outputs;
  abi_ = std::make_unique<AbiPartition>(graph_, partition_, op_case.label);
  // The node's own declarations, constants included, as the partitioner
  // hands them to query_node.
  abi_node_ = std::make_unique<AbiNode>(graph_.nodes[0], graph_);
}

const rts_node& CaseGraph::node() const { return abi_node_->node(); }
const rts_value* CaseGraph::node_inputs() const { return abi_node_->inputs(); }
const rts_value* CaseGraph::node_outputs() const { return abi_node_->outputs(); }

CaseGraph::~CaseGraph() = default;

const rts_graph& CaseGraph::abi() const { return abi_->graph(); }

std::map<std::string, Tensor> CaseGraph::inputs(uint64_t seed) const {
  return random_inputs(*op_case_, dtype_, seed);
}

std::vector<reference::RefTensor> CaseGraph::reference_outputs(
    const std::map<std::string, Tensor>& inputs) const {
  std::vector<reference::RefTensor> ref_inputs;
  for (const auto& in : op_case_->inputs) {
    if (!in.constant) {
      ref_inputs.push_back(reference::RefTensor::from(inputs.at(in.name)));
      continue;
    }
    for (const auto& weight : graph_.weights)
      if (weight.info.name == in.name)
        ref_inputs.push_back(reference::RefTensor::from(materialize_weight(weight)));
  }
  return reference::run_op(op_case_->op, ref_inputs,
                           resolve_attrs(*find_op(op_case_->op), op_case_->attrs));
}

std::vector<DType> CaseGraph::output_dtypes() const {
  std::vector<DType> dtypes;
  for (const auto& out : graph_.outputs) dtypes.push_back(graph_.type_of(out).dtype);
  return dtypes;
}

rts_runtime_settings default_settings() {
  rts_runtime_settings settings{};
  settings.struct_size = sizeof(settings);
  settings.kernel_specialization = RTS_KERNEL_SPECIALIZATION_LAZY;
  settings.graph_capture = RTS_GRAPH_CAPTURE_DISABLED;
  settings.cache = nullptr;
  return settings;
}

Engine build_engine(const Target& target, const rts_graph& graph) {
  ErrorCapture err;
  rts_engine* engine = nullptr;
  const rts_status status =
      target.api().build_engine(target.handle(), target.device, &graph, &engine, err.sink());
  err.require_ok(status, "build_engine");
  if (!engine) throw CallFailure("build_engine returned RTS_OK but no engine");
  return Engine(&target.api(), engine);
}

Context create_context(const Target& target, const Engine& engine,
                       const rts_runtime_settings& settings) {
  ErrorCapture err;
  rts_context* context = nullptr;
  const rts_status status =
      target.api().create_context(engine.get(), &settings, &context, err.sink());
  err.require_ok(status, "create_context");
  if (!context) throw CallFailure("create_context returned RTS_OK but no context");
  return Context(&target.api(), context);
}

namespace {

int append_blob(void* user, const void* data, uint64_t size) {
  auto* blob = static_cast<std::vector<uint8_t>*>(user);
  const auto* bytes = static_cast<const uint8_t*>(data);
  blob->insert(blob->end(), bytes, bytes + size);
  return 0;
}

}  // namespace

std::vector<uint8_t> serialize_engine(const Target& target, const Engine& engine) {
  std::vector<uint8_t> blob;
  rts_blob_sink sink{&blob, &append_blob};
  ErrorCapture err;
  err.require_ok(target.api().serialize_engine(engine.get(), &sink, err.sink()),
                 "serialize_engine");
  if (blob.empty()) throw CallFailure("serialize_engine returned RTS_OK but wrote no bytes");
  return blob;
}

Engine deserialize_engine(const Target& target, const std::vector<uint8_t>& blob) {
  ErrorCapture err;
  rts_engine* engine = nullptr;
  const rts_status status = target.api().deserialize_engine(
      target.handle(), target.device, blob.data(), blob.size(), &engine, err.sink());
  err.require_ok(status, "deserialize_engine");
  if (!engine) throw CallFailure("deserialize_engine returned RTS_OK but no engine");
  return Engine(&target.api(), engine);
}

rts_engine_info engine_info(const Target& target, const Engine& engine) {
  rts_engine_info info{};
  info.struct_size = sizeof(info);
  ErrorCapture err;
  err.require_ok(target.api().engine_info(engine.get(), &info, err.sink()), "engine_info");
  return info;
}

namespace {

Shape shape_of(const rts_tensor& t) { return Shape(t.dims, t.dims + t.rank); }

bool is_static(const rts_value& v) {
  return std::all_of(v.dims, v.dims + v.rank, [](int64_t d) { return d >= 0; });
}

// Host memory for outputs the plugin sizes itself; the tensors stay owned
// here until execute has returned.
struct OutputAllocator {
  std::map<uint32_t, Tensor> allocated;

  static int allocate(void* user, uint32_t index, rts_tensor* tensor) {
    auto* self = static_cast<OutputAllocator*>(user);
    if (tensor->rank > RTS_MAX_RANK) return 1;
    Tensor t = Tensor::zeros(static_cast<DType>(tensor->dtype), shape_of(*tensor));
    tensor->data = t.data();
    tensor->size_bytes = t.size_bytes();
    tensor->residency = RTS_RESIDENCY_HOST;
    self->allocated[index] = std::move(t);
    return 0;
  }
};

}  // namespace

std::vector<Tensor> execute(const Target& target, const Engine& engine, const Context& context,
                            const std::map<std::string, Tensor>& inputs, AliasBinding aliasing) {
  const rts_engine_info info = engine_info(target, engine);
  std::vector<bool> aliased(info.n_inputs, false);
  for (uint32_t a = 0; a < info.n_aliases; ++a) {
    const rts_alias& alias = info.aliases[a];
    if (alias.input >= info.n_inputs || alias.output >= info.n_outputs)
      throw CallFailure("engine_info lists an alias of output " + std::to_string(alias.output) +
                        " onto input " + std::to_string(alias.input) + ", which do not exist");
    aliased[alias.input] = true;
  }
  std::vector<Tensor> copies(info.n_inputs);  // aliased inputs the plugin may update
  std::vector<rts_tensor> in(info.n_inputs);
  for (uint32_t i = 0; i < info.n_inputs; ++i) {
    const rts_value& decl = info.inputs[i];
    auto it = inputs.find(decl.name ? decl.name : "");
    if (it == inputs.end())
      throw CallFailure("engine_info names an input '" + std::string(decl.name ? decl.name : "") +
                        "' that the graph does not have");
    if (aliased[i]) copies[i] = it->second.clone();
    const Tensor& t = aliased[i] ? copies[i] : it->second;
    rts_tensor& b = in[i];
    b.struct_size = sizeof(b);
    b.name = decl.name;
    b.dtype = static_cast<rts_dtype>(t.dtype());
    b.rank = static_cast<uint32_t>(t.shape().size());
    std::copy(t.shape().begin(), t.shape().end(), b.dims);
    b.data = const_cast<void*>(t.data());
    b.size_bytes = t.size_bytes();
    b.residency = RTS_RESIDENCY_HOST;
  }
  std::vector<Tensor> preallocated(info.n_outputs);
  std::vector<rts_tensor> out(info.n_outputs);
  for (uint32_t o = 0; o < info.n_outputs; ++o) {
    const rts_value& decl = info.outputs[o];
    rts_tensor& b = out[o];
    b.struct_size = sizeof(b);
    b.name = decl.name;
    b.dtype = decl.dtype;
    b.rank = decl.rank;
    b.residency = RTS_RESIDENCY_HOST;
    if (is_static(decl) && !info.needs_output_allocation) {
      preallocated[o] =
          Tensor::zeros(static_cast<DType>(decl.dtype), Shape(decl.dims, decl.dims + decl.rank));
      std::copy(decl.dims, decl.dims + decl.rank, b.dims);
      b.data = preallocated[o].data();
      b.size_bytes = preallocated[o].size_bytes();
    }
  }
  if (aliasing == AliasBinding::in_place) {
    for (uint32_t a = 0; a < info.n_aliases; ++a) {
      const rts_alias& alias = info.aliases[a];
      rts_tensor& b = out[alias.output];
      if (!b.data || copies[alias.input].size_bytes() < b.size_bytes) continue;
      preallocated[alias.output] = copies[alias.input];  // shares the storage
      b.data = in[alias.input].data;
      b.size_bytes = in[alias.input].size_bytes;
    }
  }
  OutputAllocator allocator;
  rts_output_allocator abi_allocator{&allocator, &OutputAllocator::allocate};
  const rts_execute_args args = execute_args(in, out, &abi_allocator);
  ErrorCapture err;
  err.require_ok(target.api().execute(context.get(), &args, err.sink()), "execute");

  std::vector<Tensor> results;
  for (uint32_t o = 0; o < info.n_outputs; ++o) {
    const rts_tensor& b = out[o];
    const std::string name = b.name ? std::string(b.name) : "output " + std::to_string(o);
    if (b.rank > RTS_MAX_RANK)
      throw CallFailure("execute reported rank " + std::to_string(b.rank) + " for output '" + name +
                        "'");
    if (b.dtype > RTS_DTYPE_BOOL)
      throw CallFailure("execute reported an unknown dtype for output '" + name + "'");
    const DType dtype = static_cast<DType>(b.dtype);
    const Shape shape = shape_of(b);
    if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; }))
      throw CallFailure("execute reported a negative dim for output '" + name + "'");
    const uint64_t bytes = uint64_t(element_count(shape)) * dtype_size(dtype);
    auto allocated = allocator.allocated.find(o);
    const void* data =
        allocated != allocator.allocated.end() ? allocated->second.data() : preallocated[o].data();
    const uint64_t capacity = allocated != allocator.allocated.end()
                                  ? allocated->second.size_bytes()
                                  : preallocated[o].size_bytes();
    if (bytes > 0 && (!data || bytes > capacity))
      throw CallFailure("execute reported output '" + name + "' as " + shape_to_string(shape) +
                        " (" + std::to_string(bytes) + " bytes) but it was bound to " +
                        std::to_string(capacity) + " bytes and never allocated more");
    results.push_back(bytes ? Tensor::from_bytes(dtype, shape, data) : Tensor::empty(dtype, shape));
  }
  return results;
}

std::string Comparison::describe() const {
  if (!mismatch.empty()) return mismatch;
  return fmt::format("max |error| {:.3g} is {:.3g}x the tolerance", max_abs_error, worst_ratio);
}

Comparison compare(const CaseGraph& graph, const std::vector<Tensor>& actual,
                   const std::vector<reference::RefTensor>& expected) {
  Comparison result;
  if (actual.size() != expected.size()) {
    result.mismatch =
        std::to_string(actual.size()) + " outputs, expected " + std::to_string(expected.size());
    return result;
  }
  const std::vector<DType> dtypes = graph.output_dtypes();
  const Tolerance tol = plugin_tolerance(graph.dtype());
  for (std::size_t o = 0; o < actual.size(); ++o) {
    const std::string which = "output " + std::to_string(o);
    if (actual[o].dtype() != dtypes[o]) {
      result.mismatch = which + " is " + std::string(to_string(actual[o].dtype())) + ", expected " +
                        std::string(to_string(dtypes[o]));
      return result;
    }
    if (actual[o].shape() != expected[o].shape) {
      result.mismatch = which + " has shape " + shape_to_string(actual[o].shape()) + ", expected " +
                        shape_to_string(expected[o].shape);
      return result;
    }
    const std::vector<double> values = actual[o].to_doubles();
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double error = std::fabs(values[i] - expected[o].data[i]);
      // NaN never compares larger: record it explicitly.
      if (std::isnan(error))
        result.max_abs_error = error;
      else if (!std::isnan(result.max_abs_error))
        result.max_abs_error = std::max(result.max_abs_error, error);
    }
    const double ratio = reference::closeness(actual[o], expected[o], tol.atol, tol.rtol);
    result.worst_ratio = std::isnan(ratio) ? INFINITY : std::max(result.worst_ratio, ratio);
  }
  return result;
}

}  // namespace rtscope::conformance
