#include "rtscope/device_memory.hpp"

#include "rtscope/error.hpp"
#include "rtscope/plugin.hpp"

namespace rtscope {

std::shared_ptr<const DeviceMemory> DeviceMemory::of(std::shared_ptr<Plugin> plugin,
                                                     uint32_t device) {
  if (!plugin->has_device_memory()) return nullptr;
  return std::make_shared<const DeviceMemory>(std::move(plugin), device);
}

DeviceMemory::DeviceMemory(std::shared_ptr<Plugin> plugin, uint32_t device)
    : plugin_(std::move(plugin)), device_(device) {}

std::string DeviceMemory::label() const {
  return "plugin '" + plugin_->id() + "' device " + std::to_string(device_);
}

bool DeviceMemory::same_as(const DeviceMemory& other) const {
  return plugin_ == other.plugin_ && device_ == other.device_;
}

std::shared_ptr<void> DeviceMemory::allocate(std::size_t bytes) const {
  if (!plugin_->has_device_memory()) {
    throw PluginError("plugin '" + plugin_->id() +
                      "' offers no device memory (device_alloc, device_free and device_copy "
                      "are not all set)");
  }
  void* memory = plugin_->device_alloc(device_, bytes);
  // The deleter owns the plugin: device memory must go before the plugin.
  std::shared_ptr<Plugin> owner = plugin_;
  const uint32_t device = device_;
  return std::shared_ptr<void>(memory, [owner, device](void* p) { owner->device_free(device, p); });
}

void DeviceMemory::copy_to_device(void* device_ptr, const void* host, std::size_t bytes) const {
  plugin_->device_copy(device_, device_ptr, const_cast<void*>(host), bytes, /*to_device=*/true);
}

void DeviceMemory::copy_to_host(void* host, const void* device_ptr, std::size_t bytes) const {
  plugin_->device_copy(device_, const_cast<void*>(device_ptr), host, bytes, /*to_device=*/false);
}

}  // namespace rtscope
