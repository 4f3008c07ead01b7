#include "plugin.hpp"

#include <thread>

#include "engine.hpp"
#include "kit_names.hpp"

namespace rtscope::cpu {
namespace {

unsigned pool_size() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 1;
}

}  // namespace

CpuPlugin::CpuPlugin(const rts_host_api* host, uint32_t abi_minor)
    : kit::OneDeviceBackend(host, abi_minor, kFormat, describe_host_cpu()), pool_(pool_size()) {
  log(RTS_LOG_DEBUG, std::string("cpu plugin ") + kFormat.plugin_version + " on '" + device().name +
                         "', " + std::to_string(pool_.size()) + " threads");
}

std::unique_ptr<kit::Engine> CpuPlugin::build_engine(uint32_t, GraphDesc graph) {
  return std::make_unique<Engine>(*this, std::move(graph));
}

}  // namespace rtscope::cpu
