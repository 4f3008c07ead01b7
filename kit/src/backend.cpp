#include "rtscope/kit/backend.hpp"

#include <utility>

#include "rtscope/kit/settings.hpp"

namespace rtscope::kit {

void Engine::validate_settings(const rts_runtime_settings* settings) const {
  read_settings(settings);
}

void Engine::serialize(const rts_blob_sink& sink) const {
  write_engine_blob(sink, backend_.blob_format(), graph());
}

void Backend::log(rts_log_level level, const std::string& message) const {
  if (host_ == nullptr || !RTS_HAS_FIELD(host_, rts_host_api, log) || host_->log == nullptr) {
    return;
  }
  host_->log(host_->user, level, message.c_str());
}

const char* Backend::intern(const std::string& text) {
  std::lock_guard lock(interned_mutex_);
  return interned_.insert(text).first->c_str();
}

std::unique_ptr<Engine> Backend::deserialize_engine(uint32_t device, const void* data,
                                                    uint64_t size) {
  return build_engine(device, read_engine_blob(format_, data, size));
}

const rts_device_info& OneDeviceBackend::device_info(uint32_t device) const {
  if (device != 0) fail_invalid("the ", name(), " plugin has one device (0), got device ", device);
  return device_;
}

void* Backend::device_alloc(uint32_t, uint64_t) {
  fail(RTS_ERROR_UNSUPPORTED, "the ", name(), " plugin has no device memory");
}

void Backend::device_free(uint32_t, void*) {}

void Backend::device_copy(uint32_t, void*, void*, uint64_t, bool) {
  fail(RTS_ERROR_UNSUPPORTED, "the ", name(), " plugin has no device memory");
}

}  // namespace rtscope::kit
