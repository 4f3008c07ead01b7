// Plugin: one loaded and initialized backend library. Objects made from a
// plugin (engines, contexts, modules) hold a shared_ptr to it, so the
// library stays loaded while any of them lives.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope {

struct DeviceInfo {
  std::string name;
  rts_device_kind kind = RTS_DEVICE_CPU;
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  uint64_t driver_version = 0;
  uint64_t memory_bytes = 0;
  std::string fingerprint;
};

// Collects the message a plugin reports through rts_error_sink and turns a
// failing status into PluginError.
class PluginCall {
 public:
  PluginCall();
  const rts_error_sink* sink() const { return &sink_; }
  // Throws PluginError "<plugin>: <what> failed: <message> (status N)"
  // unless status is RTS_OK.
  void check(rts_status status, const std::string& plugin, const std::string& what) const;
  const std::string& message() const { return message_; }

 private:
  rts_error_sink sink_;
  std::string message_;
};

class Plugin {
 public:
  // Use PluginRegistry::load.
  struct Library;
  Plugin(std::unique_ptr<Library> library, const rts_plugin_api* api, std::filesystem::path path);
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const std::string& id() const { return id_; }
  const std::string& version() const { return version_; }
  const std::filesystem::path& path() const { return path_; }
  uint32_t abi_major() const { return api_->abi_major; }
  uint32_t abi_minor() const { return negotiated_minor_; }
  const std::vector<DeviceInfo>& devices() const { return devices_; }

  const rts_plugin_api& api() const { return *api_; }
  rts_plugin* handle() const { return handle_; }

  // Initializes the plugin (called by the registry); throws PluginError
  // with the plugin's own message.
  void initialize();

 private:
  std::unique_ptr<Library> library_;  // destroyed last
  const rts_plugin_api* api_;
  std::filesystem::path path_;
  std::string id_;
  std::string version_;
  uint32_t negotiated_minor_ = 0;
  rts_host_api host_api_{};
  rts_plugin* handle_ = nullptr;
  std::vector<DeviceInfo> devices_;
};

}  // namespace rtscope
