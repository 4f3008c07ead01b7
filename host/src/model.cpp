#include "rtscope/model.hpp"

#include <algorithm>
#include <cstring>

#include "abi_graph.hpp"
#include "engine.hpp"
#include "rtscope/error.hpp"
#include "rtscope/log.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/trace.hpp"

namespace rtscope {

Model::~Model() = default;

std::unique_ptr<Model> Model::build(Graph graph, PluginRegistry& registry,
                                    const CompileOptions& options) {
  trace::Span span("model", "build model " + graph.name);
  if (graph.values.empty() && !graph.nodes.empty()) validate(graph);
  std::unique_ptr<Model> model(new Model());
  model->graph_ = std::move(graph);
  model->compile_options_ = options;
  const Graph& g = model->graph_;
  {
    trace::Span partition_span("model", "partition");
    model->partitions_ = partition_graph(g, registry, options, &model->placements_);
  }
  for (std::size_t p = 0; p < model->partitions_.size(); ++p) {
    const Partition& partition = model->partitions_[p];
    std::string name = g.name;
    if (model->partitions_.size() > 1) {
      name += '.';
      name += std::to_string(p);
    }
    name += "@";
    name += partition.plugin;
    std::shared_ptr<Plugin> plugin = registry.get(partition.plugin);
    // A plugin of ABI 1.2 or later may keep views of the weights (a mapped
    // checkpoint needs no host copy); the engine keeps them alive. Older
    // plugins copy during the build, so nothing is kept for them.
    const bool lend_constants = plugin->abi_minor() >= 2;
    AbiPartition abi(g, partition, name, lend_constants);
    trace::Span engine_span("compile", "build engine " + name);
    engine_span.arg("plugin", partition.plugin);
    auto engine = Engine::build(std::move(plugin), 0, abi.graph(),
                                lend_constants ? abi.constants() : std::vector<Tensor>{});
    model->modules_.push_back(std::make_unique<Module>(name, std::move(engine), options));
  }
  {
    trace::Span states_span("model", "zero states");
    for (const auto& s : g.states) {
      Shape shape;
      for (const auto& d : s.info.type.shape) shape.push_back(d.value);
      model->state_[s.info.name] =
          Tensor::zeros_on(model->state_device(s.info.name), s.info.type.dtype, shape);
    }
  }
  model->resolve_slots();
  return model;
}

std::vector<Module*> Model::modules() const {
  std::vector<Module*> result;
  for (const auto& m : modules_) result.push_back(m.get());
  return result;
}

// Resolves every name a step reads or writes to where its tensor lives, so
// that run_into touches no name and builds no map.
void Model::resolve_slots() {
  std::map<std::string, Slot, std::less<>> where;
  for (std::size_t i = 0; i < graph_.inputs.size(); ++i) {
    where[graph_.inputs[i].name] = {Slot::Kind::input, static_cast<uint32_t>(i), 0};
  }
  for (std::size_t k = 0; k < graph_.states.size(); ++k) {
    const std::string& name = graph_.states[k].info.name;
    where[name] = {Slot::Kind::state, static_cast<uint32_t>(k), 0};
    state_slots_.push_back(&state_.at(name));
  }
  const auto find = [&](const std::string& name) {
    auto it = where.find(name);
    if (it == where.end()) {
      throw Error("model '" + graph_.name + "': no module produces value '" + name + "'");
    }
    return it->second;
  };
  input_checks_.assign(graph_.inputs.size(), {-1, 0});
  for (std::size_t p = 0; p < partitions_.size(); ++p) {
    const Partition& partition = partitions_[p];
    Step& step = steps_.emplace_back();
    const auto& bindings = modules_[p]->inputs();
    for (std::size_t i = 0; i < partition.inputs.size(); ++i) {
      const Slot slot = find(partition.inputs[i]);
      step.inputs.push_back(slot);
      // An input another module produced crosses a partition boundary.
      step.crosses.push_back(slot.kind == Slot::Kind::output);
      if (slot.kind == Slot::Kind::input && input_checks_[slot.index].first < 0 &&
          i < bindings.size() && bindings[i].name == partition.inputs[i]) {
        input_checks_[slot.index] = {static_cast<int>(p), static_cast<uint32_t>(i)};
      }
    }
    step.bound.resize(partition.inputs.size());
    step.outputs.resize(partition.outputs.size());
    step.aliased.assign(partition.outputs.size(), false);
    for (const AliasInfo& alias : modules_[p]->aliases()) {
      if (alias.output < step.aliased.size()) step.aliased[alias.output] = true;
    }
    for (std::size_t o = 0; o < partition.outputs.size(); ++o) {
      where[partition.outputs[o]] = {Slot::Kind::output, static_cast<uint32_t>(o),
                                     static_cast<uint32_t>(p)};
    }
  }
  for (const auto& s : graph_.states) state_updates_.push_back(find(s.update_from));
  for (const std::string& name : graph_.outputs) output_slots_.push_back(find(name));
  // A module's result goes to the caller by move when nothing reads it after
  // the step: not a state's storage, and the last graph output naming it.
  output_moves_.assign(output_slots_.size(), false);
  for (std::size_t k = 0; k < output_slots_.size(); ++k) {
    const Slot& slot = output_slots_[k];
    if (slot.kind != Slot::Kind::output || steps_[slot.partition].aliased[slot.index]) continue;
    bool later = false;
    for (std::size_t j = k + 1; j < output_slots_.size(); ++j) {
      later |= output_slots_[j].kind == slot.kind && output_slots_[j].index == slot.index &&
               output_slots_[j].partition == slot.partition;
    }
    output_moves_[k] = !later;
  }
}

const Tensor& Model::at(const Slot& slot, std::span<const Tensor> inputs) const {
  switch (slot.kind) {
    case Slot::Kind::input:
      return inputs[slot.index];
    case Slot::Kind::state:
      return *state_slots_[slot.index];
    case Slot::Kind::output:
      break;
  }
  return steps_[slot.partition].outputs[slot.index];
}

std::size_t Model::input_index(std::string_view name) const {
  for (std::size_t i = 0; i < graph_.inputs.size(); ++i) {
    if (graph_.inputs[i].name == name) return i;
  }
  std::string valid;
  for (const auto& in : graph_.inputs) valid += (valid.empty() ? "" : ", ") + in.name;
  throw InputError("model '" + graph_.name + "': unknown input '" + std::string(name) +
                   "'; inputs are: " + valid);
}

std::size_t Model::output_index(std::string_view name) const {
  for (std::size_t i = 0; i < graph_.outputs.size(); ++i) {
    if (graph_.outputs[i] == name) return i;
  }
  std::string valid;
  for (const auto& out : graph_.outputs) valid += (valid.empty() ? "" : ", ") + out;
  throw InputError("model '" + graph_.name + "': unknown output '" + std::string(name) +
                   "'; outputs are: " + valid);
}

std::map<std::string, Tensor> Model::run(const std::map<std::string, Tensor>& inputs) {
  std::vector<Tensor> ordered(graph_.inputs.size());
  for (std::size_t i = 0; i < graph_.inputs.size(); ++i) {
    const ValueInfo& in = graph_.inputs[i];
    auto it = inputs.find(in.name);
    if (it == inputs.end()) {
      throw InputError("model '" + graph_.name + "': missing input '" + in.name + "' (" +
                       in.type.str() + ")");
    }
    ordered[i] = it->second;
  }
  if (inputs.size() != graph_.inputs.size()) {
    for (const auto& [name, tensor] : inputs) input_index(name);  // throws for the unknown one
  }
  std::vector<Tensor> outputs(graph_.outputs.size());
  run_into(ordered, outputs);
  std::map<std::string, Tensor> result;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    result.emplace(graph_.outputs[k], std::move(outputs[k]));
  }
  return result;
}

void Model::run_into(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
  if (inputs.size() != graph_.inputs.size() || outputs.size() != graph_.outputs.size()) {
    throw InputError("model '" + graph_.name + "': got " + std::to_string(inputs.size()) +
                     " inputs and " + std::to_string(outputs.size()) + " output slots, expected " +
                     std::to_string(graph_.inputs.size()) + " and " +
                     std::to_string(graph_.outputs.size()));
  }
  // The one host-side check of the step's inputs.
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto [module, binding] = input_checks_[i];
    if (module >= 0) modules_[module]->check_input(binding, inputs[i]);
  }
  // Results of an earlier step (or a failed one) are never written into,
  // except device slots the caller passed for that (run_into's contract).
  for (Step& step : steps_) {
    for (std::size_t o = 0; o < step.outputs.size(); ++o) {
      if (!step.aliased[o]) step.outputs[o] = Tensor();
    }
  }
  for (std::size_t k = 0; k < output_slots_.size(); ++k) {
    if (writes_in_place(k, outputs[k])) {
      steps_[output_slots_[k].partition].outputs[output_slots_[k].index] = outputs[k];
    }
  }

  uint64_t crossings = 0;
  uint64_t crossing_bytes = 0;
  for (std::size_t p = 0; p < modules_.size(); ++p) {
    Step& step = steps_[p];
    for (std::size_t i = 0; i < step.inputs.size(); ++i) {
      step.bound[i] = &at(step.inputs[i], inputs);
      if (step.crosses[i]) {
        ++crossings;
        crossing_bytes += step.bound[i]->size_bytes();
      }
    }
    modules_[p]->execute_unchecked(step.bound, step.outputs);
  }
  runs_.fetch_add(1, std::memory_order_relaxed);
  partition_crossings_.fetch_add(crossings, std::memory_order_relaxed);
  crossing_bytes_.fetch_add(crossing_bytes, std::memory_order_relaxed);

  for (std::size_t k = 0; k < state_slots_.size(); ++k) {
    Tensor& state = *state_slots_[k];
    const Tensor& next = at(state_updates_[k], inputs);
    // An aliased update already wrote into the state's storage.
    if (next.data() == state.data()) continue;
    state.copy_from(next);
    if (state.on_device() && !next.on_device()) {
      state_upload_bytes_.fetch_add(state.size_bytes(), std::memory_order_relaxed);
    }
  }
  for (std::size_t k = 0; k < output_slots_.size(); ++k) {
    const Slot& slot = output_slots_[k];
    if (output_moves_[k]) {
      outputs[k] = std::move(steps_[slot.partition].outputs[slot.index]);
    } else {
      outputs[k] = at(slot, inputs);
    }
  }
  // Intermediate results are freed with the step, as the caller's are theirs.
  for (Step& step : steps_) {
    for (std::size_t o = 0; o < step.outputs.size(); ++o) {
      if (!step.aliased[o]) step.outputs[o] = Tensor();
    }
  }
}

std::shared_ptr<const DeviceMemory> Model::output_device(std::size_t index) const {
  if (index >= output_slots_.size()) {
    throw InputError("model '" + graph_.name + "': output " + std::to_string(index) +
                     " is past its " + std::to_string(output_slots_.size()) + " outputs");
  }
  const Slot& slot = output_slots_[index];
  if (slot.kind != Slot::Kind::output || steps_[slot.partition].aliased[slot.index]) return nullptr;
  return modules_[slot.partition]->device_memory();
}

// Whether `given`, in the slot of graph output k, is where the module
// computing that output writes it: a tensor of the output's dtype on that
// module's device, for a result moved out to the caller (no later output
// or state shares it).
bool Model::writes_in_place(std::size_t k, const Tensor& given) const {
  if (!given.on_device() || !output_moves_[k]) return false;
  const std::shared_ptr<const DeviceMemory> device = output_device(k);
  const Slot& slot = output_slots_[k];
  return device && given.device_memory()->same_as(*device) &&
         given.dtype() == modules_[slot.partition]->outputs()[slot.index].dtype;
}

// A state buffer lives on a device when every module that reads it runs on
// that one device and its plugin offers device memory: the KV caches of a
// GPU decoder then never cross the bus. Anything else keeps it on the host.
std::shared_ptr<const DeviceMemory> Model::state_device(const std::string& name) const {
  std::shared_ptr<const DeviceMemory> device;
  for (std::size_t p = 0; p < modules_.size(); ++p) {
    const auto& inputs = partitions_[p].inputs;
    if (std::find(inputs.begin(), inputs.end(), name) == inputs.end()) continue;
    const std::shared_ptr<const DeviceMemory>& memory = modules_[p]->device_memory();
    if (!memory) return nullptr;
    if (device && !device->same_as(*memory)) return nullptr;
    device = memory;
  }
  return device;
}

ModelStats Model::stats() const {
  return {runs_.load(std::memory_order_relaxed),
          partition_crossings_.load(std::memory_order_relaxed),
          crossing_bytes_.load(std::memory_order_relaxed),
          state_upload_bytes_.load(std::memory_order_relaxed)};
}

void Model::bind_state(const std::string& name, const Tensor& storage) {
  auto it = state_.find(name);
  if (it == state_.end()) {
    std::string valid;
    for (const auto& [state, tensor] : state_) valid += (valid.empty() ? "" : ", ") + state;
    throw InputError("model '" + graph_.name + "' has no state buffer '" + name +
                     "'; its state buffers are: " + (valid.empty() ? "(none)" : valid));
  }
  if (storage.dtype() != it->second.dtype() || storage.shape() != it->second.shape()) {
    throw InputError("model '" + graph_.name + "': state buffer '" + name + "' is " +
                     std::string(to_string(it->second.dtype())) +
                     shape_to_string(it->second.shape()) + ", cannot bind a " +
                     std::string(to_string(storage.dtype())) + shape_to_string(storage.shape()));
  }
  it->second = storage;
}

void Model::share_state(const Model& other) {
  // Check every buffer before binding any, so a mismatch changes nothing.
  for (const auto& [name, tensor] : state_) {
    auto theirs = other.state_.find(name);
    if (theirs == other.state_.end()) {
      throw InputError("model '" + graph_.name + "' cannot share state with model '" +
                       other.graph_.name + "': it has no state buffer '" + name + "'");
    }
    if (theirs->second.dtype() != tensor.dtype() || theirs->second.shape() != tensor.shape()) {
      throw InputError("model '" + graph_.name + "' cannot share state buffer '" + name +
                       "' with model '" + other.graph_.name +
                       "': " + shape_to_string(tensor.shape()) + " vs " +
                       shape_to_string(theirs->second.shape()));
    }
  }
  for (auto& [name, tensor] : state_) tensor = other.state_.at(name);
}

void Model::reset_state() {
  for (auto& [name, tensor] : state_) tensor.zero();
}

}  // namespace rtscope
