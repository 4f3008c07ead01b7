// One initialized instance of the testing plugin: the host's services, the
// configuration cache, plugin-wide object counters and the simulated device
// memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "config.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope_testing {

inline constexpr const char* kPluginId = "testing";
inline constexpr const char* kPluginVersion = RTSCOPE_TESTING_VERSION;
inline constexpr const char* kDeviceName = "testing virtual device";
inline constexpr const char* kDeviceFingerprint = "testing/virtual/0";

// Logs through `host` when it provides a logger; never throws.
void host_log(const rts_host_api* host, rts_log_level level, const std::string& message);

// Reads $RTSCOPE_TESTING_CONFIG now, logging a warning for each ignored entry.
Config read_config(const rts_host_api* host);

class PluginState {
 public:
  PluginState(const rts_host_api* host, uint32_t abi_minor);
  PluginState(const PluginState&) = delete;
  PluginState& operator=(const PluginState&) = delete;

  void log(rts_log_level level, const std::string& message) const;

  // The configuration as of now. Parsing (and its warnings) happens once per
  // distinct value of the variable, so a config with a typo does not log on
  // every execute.
  Config config();

  // Checks that `device` names the one virtual device.
  void check_device(uint32_t device) const;

  // Simulated device memory: ordinary heap memory, tracked so that a
  // double free or a copy past an allocation is reported, not silent.
  void* device_alloc(uint64_t size);
  void device_free(void* ptr);
  void device_copy(void* device_ptr, void* host_ptr, uint64_t size, bool to_device);
  uint64_t device_allocations_live() const;

  // Plugin-wide counters, reported with every context's counters so tests
  // can check that nothing leaks.
  std::atomic<uint64_t> contexts_created{0};
  std::atomic<uint64_t> contexts_destroyed{0};
  std::atomic<int64_t> engines_live{0};

 private:
  const rts_host_api* host_;
  uint32_t abi_minor_;

  std::mutex config_mutex_;
  bool config_parsed_ = false;
  std::string config_text_;
  Config config_;

  mutable std::mutex memory_mutex_;
  std::map<const uint8_t*, uint64_t> allocations_;  // start -> size, ordered for lookups
};

}  // namespace rtscope_testing
