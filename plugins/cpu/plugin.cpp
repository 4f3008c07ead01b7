#include "plugin.hpp"

#include <thread>

namespace rtscope::cpu {
namespace {

unsigned pool_size() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 1;
}

}  // namespace

CpuPlugin::CpuPlugin(const rts_host_api* host, uint32_t abi_minor)
    : host_(host), abi_minor_(abi_minor), device_(describe_host_cpu()), pool_(pool_size()) {
  log(RTS_LOG_DEBUG, std::string("cpu plugin ") + kPluginVersion + " on '" + device_.name + "', " +
                         std::to_string(pool_.size()) + " threads");
}

void CpuPlugin::log(rts_log_level level, const std::string& message) const {
  if (host_ == nullptr || !RTS_HAS_FIELD(host_, rts_host_api, log) || host_->log == nullptr) {
    return;
  }
  host_->log(host_->user, level, message.c_str());
}

const char* CpuPlugin::intern(const std::string& text) {
  std::lock_guard lock(interned_mutex_);
  return interned_.insert(text).first->c_str();
}

}  // namespace rtscope::cpu
