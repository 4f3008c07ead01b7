#include "segmented_run.hpp"

#include <algorithm>
#include <cstring>

#include "context.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "rtscope/kit/bindings.hpp"
#include "rtscope/kit/output_binding.hpp"

namespace rtscope::vulkan {
namespace {

// Selected elements of a host tensor: nonzero bits, ignoring the sign bit
// of floats (so -0 counts as zero), as nonzero and masked_select define.
int64_t count_selected(rts_dtype dtype, const void* data, int64_t count) {
  int64_t found = 0;
  for (int64_t i = 0; i < count; ++i) {
    bool set = false;
    switch (dtype) {
      case RTS_DTYPE_F32: {
        uint32_t bits;
        std::memcpy(&bits, static_cast<const std::byte*>(data) + i * 4, 4);
        set = (bits & 0x7fffffffu) != 0;
        break;
      }
      case RTS_DTYPE_F16:
        set = (static_cast<const uint16_t*>(data)[i] & 0x7fffu) != 0;
        break;
      case RTS_DTYPE_I32:
        set = static_cast<const int32_t*>(data)[i] != 0;
        break;
      case RTS_DTYPE_I64:
        set = static_cast<const int64_t*>(data)[i] != 0;
        break;
      case RTS_DTYPE_BOOL:
        set = static_cast<const uint8_t*>(data)[i] != 0;
        break;
    }
    if (set) ++found;
  }
  return found;
}

rts_tensor to_tensor(const std::string& name, rts_dtype dtype, const Dims& dims, void* data,
                     uint64_t size_bytes, rts_residency residency = RTS_RESIDENCY_HOST,
                     uint32_t device = 0) {
  rts_tensor tensor{};
  tensor.struct_size = sizeof(tensor);
  tensor.name = name.c_str();
  tensor.dtype = dtype;
  tensor.rank = static_cast<uint32_t>(dims.size());
  std::copy(dims.begin(), dims.end(), tensor.dims);
  tensor.data = data;
  tensor.size_bytes = size_bytes;
  tensor.residency = residency;
  tensor.device = device;
  return tensor;
}

// Storage for a segment's outputs: a host buffer per value name, kept
// between executes.
struct SegmentOutputs {
  const std::vector<std::string>* names;
  std::map<std::string, std::vector<std::byte>>* buffers;

  static int allocate(void* user, uint32_t index, rts_tensor* tensor) {
    auto* self = static_cast<SegmentOutputs*>(user);
    if (index >= self->names->size()) return 1;
    std::vector<std::byte>& buffer = (*self->buffers)[(*self->names)[index]];
    const size_t bytes = kit::tensor_bytes(*tensor);
    buffer.resize(std::max<size_t>(bytes, 1));
    tensor->data = buffer.data();
    tensor->size_bytes = buffer.size();
    tensor->residency = RTS_RESIDENCY_HOST;
    return 0;
  }
};

}  // namespace

SegmentedRun::SegmentedRun(const Engine& engine, const rts_runtime_settings* settings)
    : engine_(engine) {
  for (const Segment& segment : engine_.segments()) {
    contexts_.push_back(std::make_unique<Context>(*segment.engine, settings));
  }
}

SegmentedRun::~SegmentedRun() = default;

const SegmentedRun::HostTensor& SegmentedRun::find(const std::string& name) const {
  const auto found = tensors_.find(name);
  if (found == tensors_.end()) {
    fail(RTS_ERROR_INTERNAL, "vulkan: engine '", engine_.graph().name, "': value '", name,
         "' is not on the host at its segment boundary");
  }
  return found->second;
}

void SegmentedRun::run_segment(size_t index) {
  const Segment& segment = engine_.segments()[index];
  std::vector<rts_tensor> inputs;
  for (const std::string& name : segment.inputs) {
    const HostTensor& tensor = find(name);
    inputs.push_back(to_tensor(name, tensor.dtype, tensor.dims, tensor.data, tensor.size_bytes,
                               tensor.residency, tensor.device));
  }
  std::vector<rts_tensor> outputs(segment.outputs.size());
  for (size_t o = 0; o < outputs.size(); ++o) {
    outputs[o] = to_tensor(segment.outputs[o], RTS_DTYPE_F32, {}, nullptr, 0);
  }
  SegmentOutputs storage{&segment.outputs, &buffers_};
  const rts_output_allocator allocator{&storage, &SegmentOutputs::allocate};
  rts_execute_args args{};
  args.struct_size = sizeof(args);
  args.inputs = inputs.data();
  args.n_inputs = static_cast<uint32_t>(inputs.size());
  args.outputs = outputs.data();
  args.n_outputs = static_cast<uint32_t>(outputs.size());
  args.allocator = &allocator;
  contexts_[index]->execute(args);

  for (size_t o = 0; o < outputs.size(); ++o) {
    const rts_tensor& written = outputs[o];
    tensors_[segment.outputs[o]] = {written.dtype, Dims(written.dims, written.dims + written.rank),
                                    written.data, written.size_bytes};
  }
  if (segment.selected.empty()) return;
  // The sync point: the segment's submit finished and its outputs are on
  // the host. The kernel wrote the selected rows first; keep `count` rows.
  const HostTensor& selector = find(segment.selector);
  if (selector.residency != RTS_RESIDENCY_HOST) {
    fail(RTS_ERROR_UNSUPPORTED, "vulkan: ", segment.node_label, ": its input '", segment.selector,
         "' is bound in device memory, but the host counts the selected elements of it; bind it "
         "in host memory or set fallback_data_dependent_ops");
  }
  const int64_t count = count_selected(selector.dtype, selector.data, element_count(selector.dims));
  HostTensor& selected = tensors_.at(segment.selected);
  if (selected.dims.empty() || count > selected.dims[0]) {
    fail(RTS_ERROR_INTERNAL, "vulkan: ", segment.node_label, ": ", count,
         " selected elements exceed its worst-case output ", shape_str(selected.dims));
  }
  selected.dims[0] = count;
  syncs_.fetch_add(1, std::memory_order_relaxed);
}

void SegmentedRun::execute(const rts_execute_args& args) {
  const GraphDesc& graph = engine_.graph();
  kit::check_binding_counts(graph, args);
  tensors_.clear();
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& input = args.inputs[i];
    if (input.rank > RTS_MAX_RANK) {
      fail_invalid("input '", graph.inputs[i].name, "': rank ", input.rank,
                   " exceeds RTS_MAX_RANK");
    }
    tensors_[graph.inputs[i].name] = {input.dtype,     Dims(input.dims, input.dims + input.rank),
                                      input.data,      input.size_bytes,
                                      input.residency, input.device};
  }
  // A selector may be a constant: the host reads its bytes directly.
  for (const ConstantDesc& constant : graph.constants) {
    tensors_[constant.value.name] = {constant.value.dtype, constant.value.dims,
                                     const_cast<std::byte*>(constant.bytes.data()),
                                     constant.bytes.size()};
  }
  for (size_t s = 0; s < contexts_.size(); ++s) run_segment(s);

  uint64_t allocated = 0;
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const ValueDesc& declared = graph.outputs[o];
    const HostTensor& result = find(declared.name);
    if (result.residency != RTS_RESIDENCY_HOST) {
      fail(RTS_ERROR_UNSUPPORTED, "output '", declared.name,
           "' passes a device-resident input through an engine with data-dependent nodes, "
           "which returns host memory only");
    }
    if (kit::bind_output(o, declared.name, result.dtype, result.dims, args)) ++allocated;
    const size_t bytes = kit::tensor_bytes(args.outputs[o]);
    if (bytes > 0 && args.outputs[o].data != result.data) {
      std::memmove(args.outputs[o].data, result.data, bytes);
    }
  }
  output_allocations_.fetch_add(allocated, std::memory_order_relaxed);
  executes_.fetch_add(1, std::memory_order_relaxed);
}

void SegmentedRun::report_counters(const rts_counter_sink& sink) const {
  if (sink.counter == nullptr) return;
  std::map<std::string, uint64_t> totals;
  rts_counter_sink collect{&totals, [](void* user, const char* name, uint64_t value) {
                             auto& map = *static_cast<std::map<std::string, uint64_t>*>(user);
                             const std::string key = name;
                             // Plugin-wide values are the same in every segment.
                             if (key == "validation_errors" || key == "validation_enabled") {
                               map[key] = std::max(map[key], value);
                             } else {
                               map[key] += value;
                             }
                           }};
  for (const auto& context : contexts_) context->report_counters(collect);
  totals["executes"] = executes_.load(std::memory_order_relaxed);
  totals["output_allocations"] = output_allocations_.load(std::memory_order_relaxed);
  totals["segments"] = contexts_.size();
  totals["data_dependent_syncs"] = syncs_.load(std::memory_order_relaxed);
  for (const auto& [name, value] : totals) sink.counter(sink.user, name.c_str(), value);
}

}  // namespace rtscope::vulkan
