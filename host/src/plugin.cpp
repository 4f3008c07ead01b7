#include "rtscope/plugin.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "plugin_guard.hpp"
#include "plugin_library.hpp"
#include "rtscope/error.hpp"
#include "rtscope/log.hpp"
#include "rtscope/trace.hpp"

namespace rtscope {
namespace {

uint64_t trace_begin_from_plugin(void*) {
  return trace::enabled() ? static_cast<uint64_t>(trace::now_ns()) : 0;
}

void trace_end_from_plugin(void* user, uint64_t begin, const char* category, const char* name) {
  if (begin == 0 || !trace::enabled()) return;
  try {  // nothing may unwind into plugin frames
    const auto* plugin = static_cast<const Plugin*>(user);
    trace::Event event;
    event.category = category ? category : "plugin";
    event.name = name ? name : "";
    event.begin_ns = static_cast<int64_t>(begin);
    event.end_ns = trace::now_ns();
    event.args.emplace_back("plugin", plugin->id());
    trace::record(std::move(event));
  } catch (...) {
  }
}

void log_from_plugin(void* user, rts_log_level level, const char* message) try {
  const auto* plugin = static_cast<const Plugin*>(user);
  // Indexed by rts_log_level; any other value (a newer plugin's) is an error.
  constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::trace, spdlog::level::debug,
                                                   spdlog::level::info, spdlog::level::warn};
  const auto index = static_cast<std::size_t>(level);
  const auto spd_level = index < std::size(kLevels) ? kLevels[index] : spdlog::level::err;
  log().log(spd_level, "[{}] {}", plugin->id(), message ? message : "");
} catch (...) {  // nothing may unwind into plugin frames
}

std::string status_name(rts_status status) {
  switch (status) {
    case RTS_OK:
      return "ok";
    case RTS_ERROR_INVALID_ARGUMENT:
      return "invalid argument";
    case RTS_ERROR_UNSUPPORTED:
      return "unsupported";
    case RTS_ERROR_NOT_FOUND:
      return "not found";
    case RTS_ERROR_OUT_OF_MEMORY:
      return "out of memory";
    case RTS_ERROR_DEVICE:
      return "device error";
    case RTS_ERROR_VERSION:
      return "version mismatch";
    case RTS_ERROR_INTERNAL:
      return "internal error";
  }
  return "status " + std::to_string(static_cast<int>(status));
}

}  // namespace

PluginCall::PluginCall() {
  sink_.user = this;
  sink_.report = [](void* user, rts_status, const char* message) noexcept {
    auto* self = static_cast<PluginCall*>(user);
    if (!self || !self->message_.empty() || !message) return;
    try {  // nothing may unwind into plugin frames
      self->message_ = message;
    } catch (...) {  // std::bad_alloc: the status alone still reports the failure
    }
  };
}

void PluginCall::check(rts_status status, const std::string& plugin,
                       const std::string& what) const {
  if (status == RTS_OK) return;
  std::string text = "plugin '" + plugin + "': " + what + " failed (" + status_name(status) + ")";
  if (!message_.empty()) text += ": " + message_;
  throw PluginError(text);
}

Plugin::Plugin(std::unique_ptr<Library> library, const rts_plugin_api* api,
               std::filesystem::path path)
    : library_(std::move(library)), api_(api), path_(std::move(path)) {
  id_ = api_->id ? api_->id : "";
  version_ = api_->version ? api_->version : "";
  label_ = "plugin '" + id_ + "' (" + path_.string() + ")";
  negotiated_minor_ = std::min<uint32_t>(api_->abi_minor, RTS_ABI_VERSION_MINOR);
  host_api_.struct_size = sizeof(rts_host_api);
  host_api_.user = this;
  host_api_.log = &log_from_plugin;
  host_api_.trace_begin = &trace_begin_from_plugin;
  host_api_.trace_end = &trace_end_from_plugin;
}

Plugin::~Plugin() {
  if (!handle_ || !api_->shutdown) return;
  try {
    call_slot(label(), "shutdown", api_->shutdown, handle_);
  } catch (const std::exception& e) {
    log().error("{}", e.what());
  }
}

void Plugin::initialize() {
  PluginCall call;
  call.check(
      call_slot(label(), "init", api_->init, &host_api_, negotiated_minor_, &handle_, call.sink()),
      id_, "init (" + path_.string() + ")");
  if (!handle_) {
    throw PluginError("plugin '" + id_ + "' (" + path_.string() + "): init returned no instance");
  }
  const uint32_t count = call_slot(label(), "device_count", api_->device_count, handle_);
  for (uint32_t i = 0; i < count; ++i) {
    rts_device_info info{};
    info.struct_size = sizeof(info);
    PluginCall info_call;
    info_call.check(
        call_slot(label(), "device_info", api_->device_info, handle_, i, &info, info_call.sink()),
        id_, "device_info(" + std::to_string(i) + ")");
    DeviceInfo device;
    device.name = std::string(info.name, strnlen(info.name, sizeof(info.name)));
    device.kind = info.kind;
    device.vendor_id = info.vendor_id;
    device.device_id = info.device_id;
    device.driver_version = info.driver_version;
    device.memory_bytes = info.memory_bytes;
    device.fingerprint =
        std::string(info.fingerprint, strnlen(info.fingerprint, sizeof(info.fingerprint)));
    devices_.push_back(std::move(device));
  }
}

}  // namespace rtscope
