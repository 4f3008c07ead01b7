#include "rtscope/device_memory.hpp"

#include "rtscope/error.hpp"
#include "rtscope/plugin.hpp"

namespace rtscope {

namespace {

bool offers_device_memory(const Plugin& plugin) {
  const rts_plugin_api& api = plugin.api();
  return api.device_alloc && api.device_free && api.device_copy;
}

}  // namespace

std::shared_ptr<const DeviceMemory> DeviceMemory::of(std::shared_ptr<Plugin> plugin,
                                                     uint32_t device) {
  if (!offers_device_memory(*plugin)) return nullptr;
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
  if (!offers_device_memory(*plugin_)) {
    throw PluginError("plugin '" + plugin_->id() +
                      "' offers no device memory (device_alloc, device_free and device_copy "
                      "are not all set)");
  }
  void* memory = nullptr;
  PluginCall call;
  call.check(plugin_->api().device_alloc(plugin_->handle(), device_, bytes, &memory, call.sink()),
             plugin_->id(), "device_alloc(" + std::to_string(bytes) + " bytes)");
  if (!memory) {
    throw PluginError("plugin '" + plugin_->id() + "': device_alloc returned no memory");
  }
  // The deleter owns the plugin: device memory must go before the plugin.
  std::shared_ptr<Plugin> owner = plugin_;
  const uint32_t device = device_;
  return std::shared_ptr<void>(
      memory, [owner, device](void* p) { owner->api().device_free(owner->handle(), device, p); });
}

void DeviceMemory::copy_to_device(void* device_ptr, const void* host, std::size_t bytes) const {
  PluginCall call;
  call.check(plugin_->api().device_copy(plugin_->handle(), device_, device_ptr,
                                        const_cast<void*>(host), bytes, 1, call.sink()),
             plugin_->id(), "device_copy(to device, " + std::to_string(bytes) + " bytes)");
}

void DeviceMemory::copy_to_host(void* host, const void* device_ptr, std::size_t bytes) const {
  PluginCall call;
  call.check(plugin_->api().device_copy(plugin_->handle(), device_, const_cast<void*>(device_ptr),
                                        host, bytes, 0, call.sink()),
             plugin_->id(), "device_copy(to host, " + std::to_string(bytes) + " bytes)");
}

}  // namespace rtscope
