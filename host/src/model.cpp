#include "rtscope/model.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "abi_graph.hpp"
#include "engine.hpp"
#include "rtscope/log.hpp"
#include "rtscope/error.hpp"
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
    AbiPartition abi(g, partition, name);
    trace::Span engine_span("compile", "build engine " + name);
    engine_span.arg("plugin", partition.plugin);
    auto engine = Engine::build(registry.get(partition.plugin), 0, abi.graph());
    model->modules_.push_back(std::make_unique<Module>(name, std::move(engine), options));
  }
  // An input another module produced crosses a partition boundary.
  std::set<std::string> produced;
  for (const Partition& partition : model->partitions_) {
    std::vector<bool>& crosses = model->crosses_.emplace_back();
    for (const std::string& input : partition.inputs) crosses.push_back(produced.count(input) > 0);
    produced.insert(partition.outputs.begin(), partition.outputs.end());
  }
  for (const auto& s : g.states) {
    Shape shape;
    for (const auto& d : s.info.type.shape) shape.push_back(d.value);
    model->state_[s.info.name] =
        Tensor::zeros_on(model->state_device(s.info.name), s.info.type.dtype, shape);
  }
  return model;
}

std::vector<Module*> Model::modules() const {
  std::vector<Module*> result;
  for (const auto& m : modules_) result.push_back(m.get());
  return result;
}

std::map<std::string, Tensor> Model::run(const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, Tensor> values;
  for (const auto& in : graph_.inputs) {
    auto it = inputs.find(in.name);
    if (it == inputs.end()) {
      throw InputError("model '" + graph_.name + "': missing input '" + in.name + "' (" +
                       in.type.str() + ")");
    }
    values[in.name] = it->second;
  }
  for (const auto& [name, tensor] : inputs) {
    if (!values.count(name)) {
      std::string valid;
      for (const auto& in : graph_.inputs) valid += (valid.empty() ? "" : ", ") + in.name;
      throw InputError("model '" + graph_.name + "': unknown input '" + name +
                       "'; inputs are: " + valid);
    }
  }
  for (const auto& [name, tensor] : state_) values[name] = tensor;

  uint64_t crossings = 0;
  uint64_t crossing_bytes = 0;
  for (std::size_t p = 0; p < modules_.size(); ++p) {
    const Partition& partition = partitions_[p];
    std::vector<Tensor> module_inputs;
    module_inputs.reserve(partition.inputs.size());
    for (std::size_t i = 0; i < partition.inputs.size(); ++i) {
      module_inputs.push_back(values.at(partition.inputs[i]));
      if (crosses_[p][i]) {
        ++crossings;
        crossing_bytes += module_inputs.back().size_bytes();
      }
    }
    std::vector<Tensor> outputs = modules_[p]->execute(module_inputs);
    for (std::size_t o = 0; o < outputs.size(); ++o) {
      values[partition.outputs[o]] = std::move(outputs[o]);
    }
  }
  runs_.fetch_add(1, std::memory_order_relaxed);
  partition_crossings_.fetch_add(crossings, std::memory_order_relaxed);
  crossing_bytes_.fetch_add(crossing_bytes, std::memory_order_relaxed);

  for (const auto& s : graph_.states) {
    Tensor& state = state_.at(s.info.name);
    const Tensor& next = values.at(s.update_from);
    // An aliased update already wrote into the state's storage.
    if (next.data() == state.data()) continue;
    state.copy_from(next);
    if (state.on_device() && !next.on_device()) {
      state_upload_bytes_.fetch_add(state.size_bytes(), std::memory_order_relaxed);
    }
  }
  std::map<std::string, Tensor> result;
  for (const auto& name : graph_.outputs) result[name] = values.at(name);
  return result;
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
