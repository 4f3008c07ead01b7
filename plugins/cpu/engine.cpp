#include "engine.hpp"

#include <cstring>

#include "error.hpp"
#include "execution_plan.hpp"
#include "half.hpp"
#include "plugin.hpp"

namespace rtscope::cpu {
namespace {

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

}  // namespace

Engine::Engine(CpuPlugin& plugin, GraphDesc graph) : plugin_(plugin), graph_(std::move(graph)) {
  index_values();
  resolve_nodes();
  resolve_outputs();
  resolve_aliases();
  convert_f16_constants();
  for (const ValueDesc& input : graph_.inputs) info_inputs_.push_back(to_rts_value(input));
  for (const ValueDesc& output : graph_.outputs) info_outputs_.push_back(to_rts_value(output));

  // With static inputs every shape is known now: check them all before
  // anything runs.
  bool static_inputs = true;
  std::vector<Dims> input_dims;
  for (const ValueDesc& input : graph_.inputs) {
    static_inputs = static_inputs && input.is_static();
    input_dims.push_back(input.dims);
  }
  if (static_inputs) build_plan(*this, input_dims, ContextSettings{});

  size_t constant_bytes = 0;
  for (const ConstantDesc& constant : graph_.constants) constant_bytes += constant.bytes.size();
  plugin_.log(RTS_LOG_DEBUG, str_cat("cpu: built engine '", graph_.name, "': ", nodes_.size(),
                                     " nodes, ", graph_.constants.size(), " constants (",
                                     constant_bytes, " bytes), ", aliases_.size(), " aliases"));
}

uint32_t Engine::add_value(const std::string& name, rts_dtype dtype, const ValueDesc* declared,
                           ValueRole role, uint32_t role_index) {
  const uint32_t id = static_cast<uint32_t>(values_.size());
  if (!value_ids_.emplace(name, id).second) {
    fail_invalid("graph '", graph_.name, "': value '", name, "' is declared twice");
  }
  values_.push_back({.name = name,
                     .dtype = dtype,
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
    if (desc.outputs.size() != 1) {
      fail_invalid(desc.label(), ": expects 1 output, got ", desc.outputs.size());
    }
    node.float_dtype = float_dtype(*node.spec, input_dtypes);
    const rts_dtype produced = output_dtype(*node.spec, input_dtypes);
    for (const std::string& name : desc.outputs) {
      int id = find_value(name);
      if (id < 0)
        id = static_cast<int>(add_value(name, produced, nullptr, ValueRole::kIntermediate, 0));
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
  first_data_dependent_node_ = nodes_.size();
  for (size_t index = 0; index < nodes_.size(); ++index) {
    if (is_data_dependent(*nodes_[index].spec, *nodes_[index].desc)) {
      first_data_dependent_node_ = index;
      break;
    }
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
  // storage in place when the host binds the output onto it.
  for (uint32_t output = 0; output < output_values_.size(); ++output) {
    const EngineValue& value = values_[output_values_[output]];
    if (value.producer < 0) continue;
    const EngineNode& node = nodes_[value.producer];
    if (std::strcmp(node.spec->op, "kv_cache_update") != 0) continue;
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

void Engine::convert_f16_constants() {
  constants_f32_.resize(graph_.constants.size());
  for (const EngineNode& node : nodes_) {
    if (!node.computes_f16_in_f32()) continue;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const EngineValue& value = values_[node.inputs[i]];
      if (value.role != ValueRole::kConstant || input_kind(*node.spec, i) != InputKind::kFloat) {
        continue;
      }
      AlignedBuffer& converted = constants_f32_[value.role_index];
      if (converted.capacity() > 0) continue;
      const ConstantDesc& constant = graph_.constants[value.role_index];
      const int64_t count = element_count(constant.value.dims);
      converted.reserve(std::max<size_t>(static_cast<size_t>(count) * sizeof(float), 1));
      half_to_float(reinterpret_cast<const uint16_t*>(constant.bytes.data()),
                    static_cast<float*>(converted.data()), count);
    }
  }
}

const void* Engine::constant_data(uint32_t constant) const {
  return graph_.constants[constant].bytes.data();
}

const float* Engine::constant_as_f32(uint32_t constant) const {
  const AlignedBuffer& converted = constants_f32_[constant];
  return converted.capacity() > 0 ? static_cast<const float*>(converted.data()) : nullptr;
}

void Engine::fill_info(rts_engine_info& info) const {
  info.inputs = info_inputs_.data();
  info.n_inputs = static_cast<uint32_t>(info_inputs_.size());
  info.outputs = info_outputs_.data();
  info.n_outputs = static_cast<uint32_t>(info_outputs_.size());
  info.aliases = aliases_.data();
  info.n_aliases = static_cast<uint32_t>(aliases_.size());
  // An output produced at or after the first data-dependent node has its
  // size known only after running: the host's allocator provides it.
  info.needs_output_allocation = 0;
  for (uint32_t id : output_values_) {
    const int producer = values_[id].producer;
    if (producer >= 0 && static_cast<size_t>(producer) >= first_data_dependent_node_) {
      info.needs_output_allocation = 1;
    }
  }
}

}  // namespace rtscope::cpu
