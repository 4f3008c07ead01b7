// The testing plugin instance behind rts_plugin (a kit::Backend): one
// virtual device, the configuration cache, plugin-wide object counters and
// the simulated device memory. Everything it answers is deterministic, so
// host tests can count calls and inject failures ($RTSCOPE_TESTING_CONFIG,
// config.hpp) without a real device.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config.hpp"
#include "rtscope/kit/backend.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope_testing {

namespace kit = rtscope::kit;

inline constexpr const char* kDeviceFingerprint = "testing/virtual/0";

// Reads $RTSCOPE_TESTING_CONFIG now, logging a warning for each ignored entry.
Config read_config(const rts_host_api* host);

class TestingPlugin : public kit::OneDeviceBackend {
 public:
  // The id, version and engine blob magic ("RTSTEST\0") of the plugin;
  // format 2 is the kit's checksummed graph blob.
  static constexpr kit::EngineBlobFormat kFormat = {
      "testing", {'R', 'T', 'S', 'T', 'E', 'S', 'T', '\0'}, 2, RTSCOPE_TESTING_VERSION};
  // Simulated device memory: ordinary heap memory, tracked so that a
  // double free or a copy past an allocation is reported, not silent.
  static constexpr bool kDeviceMemory = true;

  // Fails with RTS_ERROR_DEVICE when the configuration says fail_init.
  TestingPlugin(const rts_host_api* host, uint32_t abi_minor);
  // Logs an error when engines or contexts are still alive.
  ~TestingPlugin() override;

  // The configuration as of now. Parsing (and its warnings) happens once per
  // distinct value of the variable, so a config with a typo does not log on
  // every execute.
  Config config();
  // Whether $RTSCOPE_TESTING_CONFIG is set at all: without it config() is
  // empty.
  static bool configured() { return std::getenv(kConfigEnv) != nullptr; }

  rts_support query_node(uint32_t device, const kit::NodeDesc& node, const rts_value* inputs,
                         const rts_value* outputs) override;
  std::unique_ptr<kit::Engine> build_engine(uint32_t device, kit::GraphDesc graph) override;
  void* device_alloc(uint32_t device, uint64_t size) override;
  void device_free(uint32_t device, void* ptr) override;
  void device_copy(uint32_t device, void* device_ptr, void* host_ptr, uint64_t size,
                   bool to_device) override;
  uint64_t device_allocations_live() const;

  // Plugin-wide counters, reported with every context's counters so tests
  // can check that nothing leaks.
  std::atomic<uint64_t> contexts_created{0};
  std::atomic<uint64_t> contexts_destroyed{0};
  std::atomic<int64_t> engines_live{0};

 private:
  std::mutex config_mutex_;
  bool config_parsed_ = false;
  std::string config_text_;
  Config config_;

  mutable std::mutex memory_mutex_;
  std::map<const uint8_t*, uint64_t> allocations_;  // start -> size, ordered for lookups
};

}  // namespace rtscope_testing
