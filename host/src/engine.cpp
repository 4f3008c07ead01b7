#include "engine.hpp"

#include "host_callbacks.hpp"
#include "rtscope/error.hpp"

namespace rtscope {
namespace {

std::vector<BindingInfo> to_bindings(const rts_value* values, uint32_t count) {
  std::vector<BindingInfo> bindings;
  for (uint32_t i = 0; i < count; ++i) {
    const rts_value& v = values[i];
    BindingInfo b;
    b.name = v.name ? v.name : "";
    b.dtype = static_cast<DType>(v.dtype);
    b.dims.assign(v.dims, v.dims + v.rank);
    b.min_dims.assign(v.min_dims, v.min_dims + v.rank);
    b.max_dims.assign(v.max_dims, v.max_dims + v.rank);
    bindings.push_back(std::move(b));
  }
  return bindings;
}

}  // namespace

Engine::Engine(std::shared_ptr<Plugin> plugin, uint32_t device, rts_engine* handle)
    : plugin_(std::move(plugin)), device_(device), handle_(handle) {
  rts_engine_info info{};
  try {
    info = plugin_->engine_info(handle_);
  } catch (...) {
    plugin_->destroy_engine(handle_);
    throw;
  }
  inputs_ = to_bindings(info.inputs, info.n_inputs);
  outputs_ = to_bindings(info.outputs, info.n_outputs);
  for (uint32_t i = 0; i < info.n_aliases; ++i) {
    aliases_.push_back({info.aliases[i].output, info.aliases[i].input, info.aliases[i].kind});
  }
  needs_output_allocation_ = info.needs_output_allocation != 0;
}

Engine::~Engine() { plugin_->destroy_engine(handle_); }

std::shared_ptr<Engine> Engine::build(std::shared_ptr<Plugin> plugin, uint32_t device,
                                      const rts_graph& graph, std::vector<Tensor> constants) {
  rts_engine* handle = plugin->build_engine(device, graph);
  auto engine = std::make_shared<Engine>(std::move(plugin), device, handle);
  engine->constants_ = std::move(constants);
  return engine;
}

std::shared_ptr<Engine> Engine::deserialize(std::shared_ptr<Plugin> plugin, uint32_t device,
                                            const std::vector<uint8_t>& blob) {
  rts_engine* handle = plugin->deserialize_engine(device, blob.data(), blob.size());
  return std::make_shared<Engine>(std::move(plugin), device, handle);
}

std::vector<uint8_t> Engine::serialize() const {
  std::vector<uint8_t> blob;
  plugin_->serialize_engine(handle_, host_callbacks::blob_sink(blob));
  return blob;
}

int Engine::aliased_input(uint32_t output) const {
  for (const auto& alias : aliases_) {
    if (alias.output == output) return static_cast<int>(alias.input);
  }
  return -1;
}

}  // namespace rtscope
