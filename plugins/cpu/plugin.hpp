// The CPU plugin instance behind rts_plugin (a kit::Backend): the device
// description and the thread pool shared by every context.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "rtscope/kit/backend.hpp"
#include "rtscope/plugin_abi.h"
#include "thread_pool.hpp"

namespace rtscope::cpu {

class CpuPlugin : public kit::OneDeviceBackend {
 public:
  // The id, version and engine blob magic ("RTSCPUEB") of the plugin.
  static constexpr kit::EngineBlobFormat kFormat = {
      "cpu", {'R', 'T', 'S', 'C', 'P', 'U', 'E', 'B'}, 2, "0.1.0"};
  // Host memory is this plugin's device memory: no separate allocations.
  static constexpr bool kDeviceMemory = false;

  CpuPlugin(const rts_host_api* host, uint32_t abi_minor);

  ThreadPool& pool() { return pool_; }

  rts_support query_node(uint32_t device, const kit::NodeDesc& node, const rts_value* inputs,
                         const rts_value* outputs) override;
  std::unique_ptr<kit::Engine> build_engine(uint32_t device, kit::GraphDesc graph) override;

 private:
  ThreadPool pool_;
};

// Describes this machine's processor: model name, memory, fingerprint.
rts_device_info describe_host_cpu();

}  // namespace rtscope::cpu
