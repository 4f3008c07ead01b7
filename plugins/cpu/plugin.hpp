// The CPU plugin instance behind rts_plugin: host services, the device
// description and the thread pool shared by every context.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "rtscope/plugin_abi.h"
#include "thread_pool.hpp"

namespace rtscope::cpu {

inline constexpr const char* kPluginId = "cpu";
inline constexpr const char* kPluginVersion = "0.1.0";

class CpuPlugin {
 public:
  // `host` may be NULL (then nothing is logged); it stays valid until the
  // plugin is destroyed.
  CpuPlugin(const rts_host_api* host, uint32_t abi_minor);

  // Thread-safe.
  void log(rts_log_level level, const std::string& message) const;

  ThreadPool& pool() { return pool_; }
  const rts_host_api* host() const { return host_; }
  const rts_device_info& device() const { return device_; }
  uint32_t abi_minor() const { return abi_minor_; }

  // A copy of `text` that lives as long as the plugin, for the static
  // strings query_node hands out. Thread-safe.
  const char* intern(const std::string& text);

 private:
  const rts_host_api* host_;
  uint32_t abi_minor_;
  rts_device_info device_{};
  ThreadPool pool_;
  std::mutex interned_mutex_;
  std::set<std::string> interned_;
};

// Describes this machine's processor: model name, memory, fingerprint.
rts_device_info describe_host_cpu();

}  // namespace rtscope::cpu
