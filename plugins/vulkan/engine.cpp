#include "engine.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <thread>

#include "device.hpp"
#include "error.hpp"
#include "plugin.hpp"
#include "rtscope/kit/parallel_for.hpp"
#include "upload.hpp"

namespace rtscope::vulkan {
namespace {

// [rows, cols] row-major elements -> [cols, rows], in 64 x 64 tiles so that
// reads and writes both stay within cache lines (a strided element copy of
// a 1 GB model's weights takes seconds).
template <typename Element>
void transpose_tiles(const Element* in, Element* out, size_t rows, size_t cols) {
  constexpr size_t kTile = 64;
  for (size_t r0 = 0; r0 < rows; r0 += kTile) {
    const size_t r1 = std::min(rows, r0 + kTile);
    for (size_t c0 = 0; c0 < cols; c0 += kTile) {
      const size_t c1 = std::min(cols, c0 + kTile);
      for (size_t r = r0; r < r1; ++r) {
        for (size_t c = c0; c < c1; ++c) out[c * rows + r] = in[r * cols + c];
      }
    }
  }
}

std::vector<std::byte> transpose_matrix(const std::vector<std::byte>& bytes, const Dims& dims,
                                        size_t element) {
  const size_t rows = static_cast<size_t>(dims[0]);
  const size_t cols = static_cast<size_t>(dims[1]);
  std::vector<std::byte> out(bytes.size());
  if (element == 2) {
    transpose_tiles(reinterpret_cast<const uint16_t*>(bytes.data()),
                    reinterpret_cast<uint16_t*>(out.data()), rows, cols);
  } else if (element == 4) {
    transpose_tiles(reinterpret_cast<const uint32_t*>(bytes.data()),
                    reinterpret_cast<uint32_t*>(out.data()), rows, cols);
  } else {
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        std::memcpy(&out[(c * rows + r) * element], &bytes[(r * cols + c) * element], element);
      }
    }
  }
  return out;
}

rts_value to_rts_value(const ValueDesc& desc) {
  rts_value value{};
  value.name = desc.name.c_str();
  value.dtype = desc.dtype;
  value.rank = static_cast<uint32_t>(desc.dims.size());
  for (size_t i = 0; i < desc.dims.size(); ++i) {
    value.dims[i] = desc.dims[i];
    value.min_dims[i] = desc.min_dims[i];
    value.max_dims[i] = desc.max_dims[i];
  }
  return value;
}

void check_input_dims(const ValueDesc& declared, const Dims& dims) {
  if (dims.size() != declared.dims.size()) {
    fail_invalid("input '", declared.name, "': shape ", shape_str(dims), " has rank ", dims.size(),
                 " but the engine expects ", declared.type_str());
  }
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (declared.dims[axis] >= 0 && dims[axis] != declared.dims[axis]) {
      fail_invalid("input '", declared.name, "': shape ", shape_str(dims), " does not match ",
                   declared.type_str(), " (dim ", axis, " must be ", declared.dims[axis], ")");
    }
    if (dims[axis] < declared.min_dims[axis] || dims[axis] > declared.max_dims[axis]) {
      fail_invalid("input '", declared.name, "': shape ", shape_str(dims), " has dim ", axis, " = ",
                   dims[axis], " outside its range [", declared.min_dims[axis], ", ",
                   declared.max_dims[axis], "]");
    }
  }
}

}  // namespace

Engine::Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph)
    : Engine(plugin, device, std::move(graph), false) {}

Engine::Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, AsSegment)
    : Engine(plugin, device, std::move(graph), true) {}

Engine::~Engine() = default;

Engine::Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, bool segment)
    : plugin_(plugin),
      device_index_(device),
      caps_(plugin.physical(device).caps),
      graph_(std::move(graph)) {
  index_values();
  resolve_nodes();
  transpose_linear_weights();
  collect_shader_variants();
  resolve_outputs();
  resolve_aliases();
  for (const ValueDesc& input : graph_.inputs) info_inputs_.push_back(to_rts_value(input));
  for (const ValueDesc& output : graph_.outputs) info_outputs_.push_back(to_rts_value(output));

  // With static inputs every shape is known now: check them all before
  // touching the device.
  bool static_inputs = true;
  std::vector<Dims> input_dims;
  for (const ValueDesc& input : graph_.inputs) {
    static_inputs = static_inputs && input.is_static();
    input_dims.push_back(input.dims);
  }
  if (static_inputs) infer_shapes(input_dims);

  device_ = &plugin_.device(device_index_);
  if (!segment) split_into_segments();
  if (segments_.empty()) upload_constants();
  size_t constant_bytes = 0;
  for (const ConstantDesc& constant : graph_.constants) constant_bytes += constant.bytes.size();
  plugin_.log(RTS_LOG_DEBUG, str_cat("vulkan: built engine '", graph_.name, "': ", nodes_.size(),
                                     " nodes, ", shader_variants_.size(), " shader variants, ",
                                     graph_.constants.size(), " constants (", constant_bytes,
                                     " bytes uploaded), ", aliases_.size(), " aliases"));
}

uint32_t Engine::add_value(const std::string& name, rts_dtype dtype, const ValueDesc* declared,
                           ValueRole role, uint32_t role_index) {
  const uint32_t id = static_cast<uint32_t>(values_.size());
  if (!value_ids_.emplace(name, id).second) {
    fail_invalid("graph '", graph_.name, "': value '", name, "' is declared twice");
  }
  values_.push_back({.name = name,
                     .dtype = dtype,
                     .device_dtype = device_dtype(dtype, caps_),
                     .declared = declared,
                     .role = role,
                     .role_index = role_index,
                     .producer = -1});
  return id;
}

int Engine::find_value(const std::string& name) const {
  const auto found = value_ids_.find(name);
  return found == value_ids_.end() ? -1 : static_cast<int>(found->second);
}

void Engine::index_values() {
  for (uint32_t i = 0; i < graph_.inputs.size(); ++i) {
    const ValueDesc& input = graph_.inputs[i];
    input_values_.push_back(add_value(input.name, input.dtype, &input, ValueRole::kInput, i));
  }
  for (uint32_t i = 0; i < graph_.constants.size(); ++i) {
    const ValueDesc& constant = graph_.constants[i].value;
    add_value(constant.name, constant.dtype, &constant, ValueRole::kConstant, i);
  }
  for (const ValueDesc& value : graph_.values) {
    // Tolerate a graph that also lists an input or constant among values.
    const int id = find_value(value.name);
    if (id >= 0 && values_[id].role != ValueRole::kIntermediate &&
        values_[id].dtype == value.dtype) {
      continue;
    }
    add_value(value.name, value.dtype, &value, ValueRole::kIntermediate, 0);
  }
  // Outputs produced by nodes may be declared only in `outputs`.
  for (const ValueDesc& output : graph_.outputs) {
    const int id = find_value(output.name);
    if (id < 0) {
      add_value(output.name, output.dtype, &output, ValueRole::kIntermediate, 0);
    } else if (values_[id].dtype != output.dtype) {
      fail_invalid("graph '", graph_.name, "': output '", output.name, "' is declared ",
                   output.type_str(), " but also as ", values_[id].declared->type_str());
    }
  }
}

void Engine::resolve_nodes() {
  nodes_.reserve(graph_.nodes.size());
  for (size_t index = 0; index < graph_.nodes.size(); ++index) {
    const NodeDesc& desc = graph_.nodes[index];
    EngineNode node;
    node.desc = &desc;
    node.spec = find_op_spec(desc.op);
    if (node.spec == nullptr) {
      fail(RTS_ERROR_UNSUPPORTED, desc.label(), ": ", unsupported_op_reason(desc.op));
    }
    std::vector<rts_dtype> input_dtypes;
    for (const std::string& name : desc.inputs) {
      const int id = find_value(name);
      if (id < 0) fail_invalid(desc.label(), ": input '", name, "' is not declared in the graph");
      const EngineValue& value = values_[id];
      if (value.role == ValueRole::kIntermediate && value.producer < 0) {
        fail_invalid(desc.label(), ": input '", name,
                     "' is not produced by an earlier node (nodes must be in topological order)");
      }
      node.inputs.push_back(static_cast<uint32_t>(id));
      input_dtypes.push_back(value.dtype);
    }
    if (std::string reason = check_input_types(*node.spec, input_dtypes); !reason.empty()) {
      fail_invalid(desc.label(), ": ", reason);
    }
    if (std::string reason = check_attrs(*node.spec, desc); !reason.empty()) {
      fail_invalid(desc.label(), ": ", reason);
    }
    if (std::string reason = check_device_support(*node.spec, input_dtypes, caps_);
        !reason.empty()) {
      fail(RTS_ERROR_UNSUPPORTED, desc.label(), ": ", reason);
    }
    if (desc.outputs.size() != 1) {
      fail_invalid(desc.label(), ": expects 1 output, got ", desc.outputs.size());
    }
    node.shaders = vulkan::shader_variants(*node.spec, input_dtypes, caps_);
    const rts_dtype produced = output_dtype(*node.spec, input_dtypes);
    for (const std::string& name : desc.outputs) {
      int id = find_value(name);
      if (id < 0) {
        id = static_cast<int>(add_value(name, produced, nullptr, ValueRole::kIntermediate, 0));
      }
      EngineValue& value = values_[id];
      if (value.role != ValueRole::kIntermediate) {
        fail_invalid(desc.label(), ": output '", name, "' is an engine input or constant");
      }
      if (value.producer >= 0) {
        fail_invalid(desc.label(), ": output '", name, "' is already produced by node '",
                     graph_.nodes[value.producer].name, "'");
      }
      if (value.dtype != produced) {
        fail_invalid(desc.label(), ": output '", name, "' is declared ", dtype_name(value.dtype),
                     " but the op produces ", dtype_name(produced));
      }
      value.producer = static_cast<int>(index);
      node.outputs.push_back(static_cast<uint32_t>(id));
    }
    nodes_.push_back(std::move(node));
  }
}

void Engine::resolve_outputs() {
  for (const ValueDesc& output : graph_.outputs) {
    const uint32_t id = value_ids_.at(output.name);
    const EngineValue& value = values_[id];
    if (value.role == ValueRole::kIntermediate && value.producer < 0) {
      fail_invalid("graph '", graph_.name, "': output '", output.name,
                   "' is not produced by any node");
    }
    output_values_.push_back(id);
  }
}

void Engine::resolve_aliases() {
  auto add_alias = [this](const rts_alias& alias) {
    for (const rts_alias& existing : aliases_) {
      if (existing.output != alias.output) continue;
      if (existing.input == alias.input) return;  // already known
      fail_invalid("graph '", graph_.name, "': output ", alias.output, " ('",
                   graph_.outputs[alias.output].name, "') aliases both input ", existing.input,
                   " and input ", alias.input);
    }
    aliases_.push_back(alias);
  };
  // A kv_cache_update whose cache is an engine input updates that input's
  // storage when the host binds the output onto it. Host-resident tensors
  // are staged, so "in place" means: the device updates its copy of the
  // cache in place and only the result is staged back into the binding.
  for (uint32_t output = 0; output < output_values_.size(); ++output) {
    const EngineValue& value = values_[output_values_[output]];
    if (value.producer < 0) continue;
    const EngineNode& node = nodes_[value.producer];
    if (node.desc->op != "kv_cache_update") continue;
    const EngineValue& cache = values_[node.inputs[0]];
    if (cache.role != ValueRole::kInput) continue;
    add_alias({output, cache.role_index, RTS_ALIAS_KV_CACHE_UPDATE});
  }
  for (const rts_alias& alias : graph_.aliases) {
    if (alias.output >= graph_.outputs.size() || alias.input >= graph_.inputs.size()) {
      fail_invalid("graph '", graph_.name, "': alias output ", alias.output, " -> input ",
                   alias.input, " is out of range (", graph_.outputs.size(), " outputs, ",
                   graph_.inputs.size(), " inputs)");
    }
    const ValueDesc& output = graph_.outputs[alias.output];
    const ValueDesc& input = graph_.inputs[alias.input];
    if (output.dtype != input.dtype || output.dims.size() != input.dims.size()) {
      fail_invalid("graph '", graph_.name, "': alias output '", output.name, "' ",
                   output.type_str(), " cannot share storage with input '", input.name, "' ",
                   input.type_str());
    }
    add_alias(alias);
  }
}

void Engine::split_into_segments() {
  std::vector<uint8_t> data_dependent(nodes_.size(), 0);
  bool any = false;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    data_dependent[n] = is_data_dependent(*nodes_[n].spec, *nodes_[n].desc) ? 1 : 0;
    any = any || data_dependent[n];
  }
  if (!any) return;
  const auto ranges = segment_ranges(data_dependent);
  for (size_t s = 0; s < ranges.size(); ++s) {
    const auto [begin, end] = ranges[s];
    segments_.push_back(
        build_segment(plugin_, device_index_, graph_, begin, end, data_dependent[end - 1] != 0, s));
  }
  shader_variants_.clear();  // each segment engine has its own
  plugin_.log(RTS_LOG_DEBUG,
              str_cat("vulkan: engine '", graph_.name, "' runs as ", segments_.size(),
                      " segments: its data-dependent outputs are sized after "
                      "their node ran"));
}

void Engine::transpose_linear_weights() {
  if (!caps_.subgroup_arithmetic) return;
  std::vector<int> linear_reads(values_.size(), 0);  // as a linear's weight
  std::vector<int> other_reads(values_.size(), 0);
  for (const EngineNode& node : nodes_) {
    const bool linear = std::string_view(node.spec->op) == "linear";
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      ++(linear && i == 1 ? linear_reads : other_reads)[node.inputs[i]];
    }
  }
  for (uint32_t id = 0; id < values_.size(); ++id) {
    EngineValue& value = values_[id];
    if (value.role != ValueRole::kConstant || linear_reads[id] == 0 || other_reads[id] > 0) {
      continue;
    }
    const Dims& dims = graph_.constants[value.role_index].value.dims;
    const int64_t vector_elements = 16 / static_cast<int64_t>(dtype_size(value.device_dtype));
    if (dims.size() != 2 || dims[0] % vector_elements != 0) continue;
    value.transposed = true;
  }
  for (EngineNode& node : nodes_) {
    if (std::string_view(node.spec->op) != "linear" || !values_[node.inputs[1]].transposed)
      continue;
    const std::string suffix = node.shaders[1].substr(node.shaders[1].rfind('_'));
    node.shaders[1] = "matvec_t" + suffix;
  }
}

void Engine::collect_shader_variants() {
  for (const EngineNode& node : nodes_) {
    for (const std::string& shader : node.shaders) {
      if (std::find(shader_variants_.begin(), shader_variants_.end(), shader) ==
          shader_variants_.end()) {
        shader_variants_.push_back(shader);
      }
    }
  }
}

void Engine::upload_constants() {
  const size_t count = graph_.constants.size();
  // Weights stored [N, K] are transposed on all cores first; they stay
  // alive until upload() returns.
  std::vector<std::vector<std::byte>> transposed(count);
  kit::parallel_for(count, std::max(1u, std::thread::hardware_concurrency()), [&](size_t i) {
    const ConstantDesc& constant = graph_.constants[i];
    if (!values_[find_value(constant.value.name)].transposed) return;
    transposed[i] =
        transpose_matrix(constant.bytes, constant.value.dims, dtype_size(constant.value.dtype));
  });
  std::vector<UploadItem> items;
  for (size_t i = 0; i < count; ++i) {
    const ConstantDesc& constant = graph_.constants[i];
    const rts_dtype stored = device_dtype(constant.value.dtype, caps_);
    const size_t elements = static_cast<size_t>(element_count(constant.value.dims));
    constants_.push_back(device_->device_memory().allocate(
        elements * dtype_size(stored), str_cat("constant '", constant.value.name, "'")));
    const void* data = transposed[i].empty() ? constant.bytes.data()
                                             : static_cast<const void*>(transposed[i].data());
    items.push_back({data, elements, constant.value.dtype, stored, constants_.back().region()});
  }
  upload(*device_, items);
}

std::vector<Dims> Engine::infer_shapes(std::span<const Dims> input_dims) const {
  std::vector<Dims> dims(values_.size());
  for (size_t i = 0; i < input_dims.size(); ++i) {
    check_input_dims(graph_.inputs[i], input_dims[i]);
    dims[input_values_[i]] = input_dims[i];
  }
  for (uint32_t id = 0; id < values_.size(); ++id) {
    if (values_[id].role == ValueRole::kConstant) {
      dims[id] = graph_.constants[values_[id].role_index].value.dims;
    }
  }
  std::vector<const Dims*> node_inputs;
  std::vector<Dims> node_outputs;
  for (const EngineNode& node : nodes_) {
    node_inputs.clear();
    for (uint32_t id : node.inputs) node_inputs.push_back(&dims[id]);
    node_outputs.assign(node.outputs.size(), Dims{});
    node.spec->infer(*node.desc, node_inputs, node_outputs);
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const EngineValue& value = values_[node.outputs[o]];
      const Dims& inferred = node_outputs[o];
      if (inferred.size() > RTS_MAX_RANK) {
        fail_node(*node.desc, "output '", value.name, "' would have rank ", inferred.size(), " > ",
                  RTS_MAX_RANK);
      }
      if (value.declared != nullptr) {
        const ValueDesc& declared = *value.declared;
        bool matches = inferred.size() == declared.dims.size();
        for (size_t axis = 0; matches && axis < inferred.size(); ++axis) {
          matches = declared.dims[axis] < 0 || declared.dims[axis] == inferred[axis];
        }
        if (!matches) {
          fail_node(*node.desc, "output '", value.name, "' is ", dtype_name(value.dtype),
                    shape_str(inferred), " but the graph declares ", declared.type_str());
        }
      }
      dims[node.outputs[o]] = std::move(node_outputs[o]);
    }
  }
  return dims;
}

void Engine::fill_info(rts_engine_info& info) const {
  info.inputs = info_inputs_.data();
  info.n_inputs = static_cast<uint32_t>(info_inputs_.size());
  info.outputs = info_outputs_.data();
  info.n_outputs = static_cast<uint32_t>(info_outputs_.size());
  info.aliases = aliases_.data();
  info.n_aliases = static_cast<uint32_t>(aliases_.size());
  // A segmented engine binds its outputs once their size is known.
  info.needs_output_allocation = segments_.empty() ? 0 : 1;
}

}  // namespace rtscope::vulkan
