#include "plugin.hpp"

#include <thread>

#include "engine.hpp"
#include "error.hpp"

namespace rtscope::cpu {
namespace {

unsigned pool_size() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 1;
}

}  // namespace

CpuPlugin::CpuPlugin(const rts_host_api* host, uint32_t abi_minor)
    : kit::Backend(host, abi_minor, kFormat), device_(describe_host_cpu()), pool_(pool_size()) {
  log(RTS_LOG_DEBUG, std::string("cpu plugin ") + kPluginVersion + " on '" + device_.name + "', " +
                         std::to_string(pool_.size()) + " threads");
}

const rts_device_info& CpuPlugin::device_info(uint32_t device) const {
  if (device != 0) fail_invalid("the cpu plugin has one device (0), got device ", device);
  return device_;
}

std::unique_ptr<kit::Engine> CpuPlugin::build_engine(uint32_t, GraphDesc graph) {
  return std::make_unique<Engine>(*this, std::move(graph));
}

}  // namespace rtscope::cpu
