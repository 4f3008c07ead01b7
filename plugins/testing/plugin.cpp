#include "plugin_state.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "failure.hpp"

namespace rtscope_testing {

void host_log(const rts_host_api* host, rts_log_level level, const std::string& message) {
  if (!host || !RTS_HAS_FIELD(host, rts_host_api, log) || !host->log) return;
  host->log(host->user, level, message.c_str());
}

Config read_config(const rts_host_api* host) {
  const char* text = std::getenv(kConfigEnv);
  if (!text) return {};
  std::vector<std::string> warnings;
  Config config = parse_config(text, &warnings);
  for (const auto& line : warnings) host_log(host, RTS_LOG_WARN, "testing: " + line);
  return config;
}

PluginState::PluginState(const rts_host_api* host, uint32_t abi_minor)
    : host_(host), abi_minor_(abi_minor) {
  log(RTS_LOG_DEBUG, "testing: initialized (ABI " + std::to_string(RTS_ABI_VERSION_MAJOR) + "." +
                         std::to_string(abi_minor_) + ")");
}

void PluginState::log(rts_log_level level, const std::string& message) const {
  host_log(host_, level, message);
}

Config PluginState::config() {
  // Unset is the common case (benchmarks): no lock, no parse.
  const char* text = std::getenv(kConfigEnv);
  if (!text) return {};
  std::vector<std::string> warnings;
  Config config;
  {
    std::lock_guard lock(config_mutex_);
    if (!config_parsed_ || config_text_ != text) {
      config_ = parse_config(text, &warnings);
      config_text_ = text;
      config_parsed_ = true;
    }
    config = config_;
  }
  for (const auto& line : warnings) log(RTS_LOG_WARN, "testing: " + line);
  return config;
}

void PluginState::check_device(uint32_t device) const {
  if (device != 0) {
    fail(RTS_ERROR_INVALID_ARGUMENT,
         "device " + std::to_string(device) + " does not exist (the testing plugin has 1)");
  }
}

void* PluginState::device_alloc(uint64_t size) {
  // malloc(0) may return NULL; every allocation gets a distinct pointer.
  void* ptr = std::malloc(size > 0 ? size : 1);
  if (!ptr) fail(RTS_ERROR_OUT_OF_MEMORY, "cannot allocate " + std::to_string(size) + " bytes");
  std::lock_guard lock(memory_mutex_);
  allocations_[static_cast<const uint8_t*>(ptr)] = size;
  return ptr;
}

void PluginState::device_free(void* ptr) {
  if (!ptr) return;
  {
    std::lock_guard lock(memory_mutex_);
    if (allocations_.erase(static_cast<const uint8_t*>(ptr)) == 0) {
      log(RTS_LOG_ERROR,
          "testing: device_free of a pointer device_alloc did not return "
          "(double free?); ignored");
      return;
    }
  }
  std::free(ptr);
}

void PluginState::device_copy(void* device_ptr, void* host_ptr, uint64_t size, bool to_device) {
  if (size == 0) return;
  if (!device_ptr || !host_ptr) fail(RTS_ERROR_INVALID_ARGUMENT, "device_copy of a NULL pointer");
  {
    std::lock_guard lock(memory_mutex_);
    // The range must lie inside one live allocation (an offset into it is
    // fine): a real device would fault otherwise.
    const auto* start = static_cast<const uint8_t*>(device_ptr);
    auto it = allocations_.upper_bound(start);
    if (it == allocations_.begin()) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "device_copy: pointer is not device memory");
    }
    --it;
    const uint64_t offset = static_cast<uint64_t>(start - it->first);
    if (offset >= std::max<uint64_t>(it->second, 1)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "device_copy: pointer is not device memory");
    }
    if (size > it->second - offset) {
      fail(RTS_ERROR_INVALID_ARGUMENT,
           "device_copy of " + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
               " overruns an allocation of " + std::to_string(it->second) + " bytes");
    }
  }
  if (to_device) {
    std::memcpy(device_ptr, host_ptr, size);
  } else {
    std::memcpy(host_ptr, device_ptr, size);
  }
}

uint64_t PluginState::device_allocations_live() const {
  std::lock_guard lock(memory_mutex_);
  return allocations_.size();
}

}  // namespace rtscope_testing
