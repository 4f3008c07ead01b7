// Memory of one plugin device, for tensors that stay on the device between
// executes (a model's KV caches on a GPU). A device tensor's data() is an
// opaque pointer from the plugin's device_alloc: only that plugin's engines
// on that device read it in place; everything else goes through the
// copies below (Tensor::to_host, Tensor::copy_from).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rtscope {

class Plugin;

class DeviceMemory {
 public:
  // Null when the plugin offers no device memory (no device_alloc,
  // device_free or device_copy): its tensors stay on the host.
  static std::shared_ptr<const DeviceMemory> of(std::shared_ptr<Plugin> plugin, uint32_t device);

  DeviceMemory(std::shared_ptr<Plugin> plugin, uint32_t device);

  const Plugin& plugin() const { return *plugin_; }
  uint32_t device() const { return device_; }
  std::string label() const;  // "plugin 'vulkan' device 0"
  // True for memory of the same plugin instance and device.
  bool same_as(const DeviceMemory& other) const;

  // `bytes` of device memory, freed when the last owner goes (which keeps
  // the plugin loaded until then). Throws PluginError naming the plugin.
  std::shared_ptr<void> allocate(std::size_t bytes) const;
  void copy_to_device(void* device_ptr, const void* host, std::size_t bytes) const;
  void copy_to_host(void* host, const void* device_ptr, std::size_t bytes) const;

 private:
  std::shared_ptr<Plugin> plugin_;
  uint32_t device_;
};

}  // namespace rtscope
