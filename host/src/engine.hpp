// Engine: a compiled partition owned by one plugin. Shared by its Module and
// by every ExecutionContext made from it, so the plugin's engine outlives
// its contexts and the library outlives both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rtscope/module.hpp"
#include "rtscope/plugin.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope {

class Engine {
 public:
  // Takes ownership of `handle` and reads its bindings from the plugin.
  Engine(std::shared_ptr<Plugin> plugin, uint32_t device, rts_engine* handle);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // `constants`: storage the graph's constants point into, kept until the
  // plugin's engine is destroyed (for a graph that sets
  // constants_outlive_engine, whose plugin may read them after the build).
  static std::shared_ptr<Engine> build(std::shared_ptr<Plugin> plugin, uint32_t device,
                                       const rts_graph& graph, std::vector<Tensor> constants = {});
  static std::shared_ptr<Engine> deserialize(std::shared_ptr<Plugin> plugin, uint32_t device,
                                             const std::vector<uint8_t>& blob);
  std::vector<uint8_t> serialize() const;

  Plugin& plugin() const { return *plugin_; }
  const std::shared_ptr<Plugin>& plugin_ptr() const { return plugin_; }
  uint32_t device() const { return device_; }
  const DeviceInfo& device_info() const { return plugin_->devices().at(device_); }
  rts_engine* handle() const { return handle_; }

  const std::vector<BindingInfo>& inputs() const { return inputs_; }
  const std::vector<BindingInfo>& outputs() const { return outputs_; }
  const std::vector<AliasInfo>& aliases() const { return aliases_; }
  bool needs_output_allocation() const { return needs_output_allocation_; }

  // Index of the input output `output` aliases, or -1.
  int aliased_input(uint32_t output) const;

 private:
  std::shared_ptr<Plugin> plugin_;
  uint32_t device_;
  rts_engine* handle_;
  std::vector<BindingInfo> inputs_;
  std::vector<BindingInfo> outputs_;
  std::vector<AliasInfo> aliases_;
  bool needs_output_allocation_ = false;
  // Released after the plugin's engine (the destructor's body runs first).
  std::vector<Tensor> constants_;
};

}  // namespace rtscope
