// Version negotiation, the function table, devices and struct_size: what a
// host relies on before it builds anything.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "abi_check_support.hpp"

namespace rtscope::conformance::detail {
namespace {

constexpr uint8_t kCanary = 0xA5;

// `size` bytes of struct followed by canary bytes the callee must not touch.
template <typename T>
struct Guarded {
  static constexpr std::size_t kSlack = 64;
  alignas(T) uint8_t bytes[sizeof(T) + kSlack];

  explicit Guarded(uint32_t struct_size) {
    std::memset(bytes, kCanary, sizeof(bytes));
    std::memset(bytes, 0, struct_size);
    std::memcpy(bytes, &struct_size, sizeof(uint32_t));
  }
  T* get() { return reinterpret_cast<T*>(bytes); }
  // Offset of the first byte at or after `from` that is no longer a canary.
  std::ptrdiff_t first_write_from(std::size_t from) const {
    for (std::size_t i = from; i < sizeof(bytes); ++i)
      if (bytes[i] != kCanary) return static_cast<std::ptrdiff_t>(i);
    return -1;
  }
};

bool terminated(const char* text, std::size_t capacity) {
  return std::memchr(text, '\0', capacity) != nullptr;
}

std::string check_table(const Target& target) {
  const rts_plugin_api& api = target.api();
  constexpr std::size_t core_size =
      offsetof(rts_plugin_api, context_counters) + sizeof(api.context_counters);
  if (api.struct_size < core_size)
    throw CallFailure("table struct_size is " + std::to_string(api.struct_size) +
                      " bytes; the core slots need " + std::to_string(core_size));
  // The host's own list (plugin_abi.h), so the two never disagree.
  const std::vector<std::pair<const char*, bool>> slots = {
#define RTSCOPE_CONFORMANCE_SLOT(slot) {#slot, api.slot != nullptr},
      RTS_REQUIRED_SLOTS(RTSCOPE_CONFORMANCE_SLOT)
#undef RTSCOPE_CONFORMANCE_SLOT
  };
  for (const auto& [name, present] : slots)
    if (!present) throw CallFailure(std::string("required slot '") + name + "' is NULL");
  if (RTS_HAS_FIELD(&api, rts_plugin_api, device_copy)) {
    const int present =
        (api.device_alloc != nullptr) + (api.device_free != nullptr) + (api.device_copy != nullptr);
    if (present != 0 && present != 3)
      throw CallFailure("device_alloc, device_free and device_copy must be all set or all NULL");
  }
  return "struct_size " + std::to_string(api.struct_size) + ", every required slot set";
}

std::string check_version(const Target& target) {
  const rts_plugin_api& api = target.api();
  const Plugin& plugin = *target.plugin;
  if (api.abi_major != RTS_ABI_VERSION_MAJOR)
    throw CallFailure("abi_major is " + std::to_string(api.abi_major) + ", the host's is " +
                      std::to_string(RTS_ABI_VERSION_MAJOR));
  const uint32_t expected = std::min<uint32_t>(api.abi_minor, RTS_ABI_VERSION_MINOR);
  if (plugin.abi_minor() != expected)
    throw CallFailure("negotiated minor is " + std::to_string(plugin.abi_minor()) +
                      ", expected min(host " + std::to_string(RTS_ABI_VERSION_MINOR) + ", plugin " +
                      std::to_string(api.abi_minor) + ")");
  if (!api.id || !*api.id) throw CallFailure("the table has no id");
  if (!api.version || !*api.version) throw CallFailure("the table has no version");
  return "ABI " + std::to_string(api.abi_major) + "." + std::to_string(api.abi_minor) +
         " negotiated minor " + std::to_string(plugin.abi_minor()) + ", id '" + api.id + "'";
}

std::string check_devices(const Target& target) {
  const uint32_t count = target.api().device_count(target.handle());
  if (count == 0) throw CallFailure("device_count is 0");
  for (uint32_t d = 0; d < count; ++d) {
    rts_device_info info{};
    info.struct_size = sizeof(info);
    ErrorCapture err;
    err.require_ok(target.api().device_info(target.handle(), d, &info, err.sink()),
                   "device_info(" + std::to_string(d) + ")");
    const std::string which = "device " + std::to_string(d);
    if (info.struct_size != sizeof(info))
      throw CallFailure("device_info changed struct_size of " + which);
    if (!terminated(info.name, sizeof(info.name)) || !info.name[0])
      throw CallFailure(which + " has an empty or unterminated name");
    if (!terminated(info.fingerprint, sizeof(info.fingerprint)) || !info.fingerprint[0])
      throw CallFailure(which + " has an empty or unterminated fingerprint");
  }
  return std::to_string(count) + " device(s)";
}

std::string check_device_info_bounds(const Target& target) {
  Guarded<rts_device_info> info(sizeof(rts_device_info));
  ErrorCapture err;
  err.require_ok(target.api().device_info(target.handle(), target.device, info.get(), err.sink()),
                 "device_info");
  if (std::ptrdiff_t at = info.first_write_from(sizeof(rts_device_info)); at >= 0)
    throw CallFailure("device_info wrote byte " + std::to_string(at) + " past struct_size " +
                      std::to_string(sizeof(rts_device_info)));
  return "";
}

// An older host knows rts_device_info without `fingerprint`: the plugin
// fills what fits or fails with a message, never writing past it.
std::string check_device_info_older_host(const Target& target) {
  constexpr uint32_t older = offsetof(rts_device_info, fingerprint);
  Guarded<rts_device_info> info(older);
  ErrorCapture err;
  const rts_status status =
      target.api().device_info(target.handle(), target.device, info.get(), err.sink());
  if (std::ptrdiff_t at = info.first_write_from(older); at >= 0)
    throw CallFailure("device_info wrote byte " + std::to_string(at) +
                      " past a smaller struct_size " + std::to_string(older));
  if (status != RTS_OK) {
    require_reported_error("device_info", status, err);
    return "declined with: " + err.message();
  }
  return "filled the older struct";
}

std::string check_device_out_of_range(const Target& target) {
  const uint32_t count = target.api().device_count(target.handle());
  rts_device_info info{};
  info.struct_size = sizeof(info);
  ErrorCapture err;
  const rts_status status = target.api().device_info(target.handle(), count, &info, err.sink());
  require_reported_error("device_info(" + std::to_string(count) + ")", status, err);
  return err.message();
}

}  // namespace

std::vector<CheckResult> entry_checks(const Target& target) {
  std::vector<CheckResult> rows;
  rows.push_back(run_check("entry.version", "-", [&] { return check_version(target); }));
  rows.push_back(run_check("entry.table", "-", [&] { return check_table(target); }));
  rows.push_back(run_check("devices.info", "-", [&] { return check_devices(target); }));
  rows.push_back(
      run_check("struct_size.device_info", "-", [&] { return check_device_info_bounds(target); }));
  rows.push_back(run_check("struct_size.device_info_older_host", "-",
                           [&] { return check_device_info_older_host(target); }));
  rows.push_back(run_check("errors.device_out_of_range", "-",
                           [&] { return check_device_out_of_range(target); }));
  return rows;
}

std::vector<CheckResult> struct_size_checks(const Probe& probe) {
  const Target& target = probe.target;
  const CaseGraph& graph = *probe.graph;
  std::vector<CheckResult> rows;
  rows.push_back(run_check("struct_size.query_node", probe.dtype(), [&] {
    Guarded<rts_support> support(sizeof(rts_support));
    ErrorCapture err;
    err.require_ok(
        target.api().query_node(target.handle(), target.device, &graph.node(), graph.node_inputs(),
                                graph.node_outputs(), support.get(), err.sink()),
        "query_node");
    if (std::ptrdiff_t at = support.first_write_from(sizeof(rts_support)); at >= 0)
      throw CallFailure("query_node wrote byte " + std::to_string(at) + " past struct_size");
    return std::string();
  }));
  rows.push_back(run_check("struct_size.engine_info", probe.dtype(), [&] {
    Engine engine = build_engine(target, graph.abi());
    Guarded<rts_engine_info> info(sizeof(rts_engine_info));
    ErrorCapture err;
    err.require_ok(target.api().engine_info(engine.get(), info.get(), err.sink()), "engine_info");
    if (std::ptrdiff_t at = info.first_write_from(sizeof(rts_engine_info)); at >= 0)
      throw CallFailure("engine_info wrote byte " + std::to_string(at) + " past struct_size");
    const rts_engine_info& got = *info.get();
    if (got.n_inputs != graph.abi().n_inputs || got.n_outputs != graph.abi().n_outputs)
      throw CallFailure("engine_info lists " + std::to_string(got.n_inputs) + " inputs and " +
                        std::to_string(got.n_outputs) + " outputs; the graph has " +
                        std::to_string(graph.abi().n_inputs) + " and " +
                        std::to_string(graph.abi().n_outputs));
    return std::string();
  }));
  return rows;
}

}  // namespace rtscope::conformance::detail
