#include "plugin.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine.hpp"
#include "kernels.hpp"
#include "rtscope/kit/plugin_api.hpp"

namespace rtscope_testing {
namespace {

using kit::fail;

void host_log(const rts_host_api* host, rts_log_level level, const std::string& message) {
  if (!host || !RTS_HAS_FIELD(host, rts_host_api, log) || !host->log) return;
  host->log(host->user, level, message.c_str());
}

// The attribute `name` when it has `type` (or, for a real, INT), else nullptr.
const kit::AttrDesc* typed_attr(const kit::NodeDesc& node, const char* name, rts_attr_type type) {
  const kit::AttrDesc* attr = node.find_attr(name);
  if (attr == nullptr) return nullptr;
  const bool real = type == RTS_ATTR_FLOAT && attr->type == RTS_ATTR_INT;
  return attr->type == type || real ? attr : nullptr;
}

rts_device_info virtual_device() {
  rts_device_info device{};
  device.struct_size = sizeof(device);
  std::snprintf(device.name, sizeof device.name, "%s", "testing virtual device");
  device.kind = RTS_DEVICE_VIRTUAL;
  device.driver_version = 1;
  std::memcpy(device.uuid, "rtscope-testing", 16);  // 15 chars and the NUL
  device.memory_bytes = uint64_t{1} << 30;          // nominal: memory is the host heap
  std::snprintf(device.fingerprint, sizeof device.fingerprint, "%s", kDeviceFingerprint);
  return device;
}

}  // namespace

Config read_config(const rts_host_api* host) {
  const char* text = std::getenv(kConfigEnv);
  if (!text) return {};
  std::vector<std::string> warnings;
  Config config = parse_config(text, &warnings);
  for (const auto& line : warnings) host_log(host, RTS_LOG_WARN, "testing: " + line);
  return config;
}

TestingPlugin::TestingPlugin(const rts_host_api* host, uint32_t abi_minor)
    : kit::OneDeviceBackend(host, abi_minor, kFormat, virtual_device()) {
  const Config config = read_config(host);
  if (config.fail_init) fail(RTS_ERROR_DEVICE, *config.fail_init);
  log(RTS_LOG_DEBUG, "testing: initialized (ABI " + std::to_string(RTS_ABI_VERSION_MAJOR) + "." +
                         std::to_string(abi_minor) + ")");
}

TestingPlugin::~TestingPlugin() {
  const int64_t engines = engines_live.load();
  const uint64_t contexts = contexts_created.load() - contexts_destroyed.load();
  if (engines != 0 || contexts != 0) {
    log(RTS_LOG_ERROR, "testing: shutdown with " + std::to_string(engines) + " engines and " +
                           std::to_string(contexts) + " contexts still alive");
  }
}

Config TestingPlugin::config() {
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

// Details are static strings, as the ABI asks.
rts_support TestingPlugin::query_node(uint32_t, const kit::NodeDesc& node, const rts_value* inputs,
                                      const rts_value* outputs) {
  rts_support answer{};
  const auto op = op_from_name(node.op);
  if (!op) {
    answer.detail = "op not provided by the testing plugin";
    return answer;
  }
  if (node.inputs.size() != op_arity(*op) || node.outputs.size() != 1) {
    answer.detail = "testing: unexpected number of inputs or outputs";
    return answer;
  }
  if (!outputs) fail(RTS_ERROR_INVALID_ARGUMENT, "value declarations are NULL");
  const rts_dtype output_dtype = *op == Op::kNonzero ? RTS_DTYPE_I64 : RTS_DTYPE_F32;
  const bool f32_inputs = std::all_of(inputs, inputs + node.inputs.size(),
                                      [](const rts_value& v) { return v.dtype == RTS_DTYPE_F32; });
  if (!f32_inputs || outputs[0].dtype != output_dtype) {
    answer.detail = "testing: dtype not provided (f32 only)";
    return answer;
  }
  if (*op == Op::kNonzero) {
    // Two kernels: with max_count > 0 the output is a static padded
    // [max_count, rank], otherwise its row count is known only after
    // running, so the host must allocate it.
    const kit::AttrDesc* max_count = typed_attr(node, "max_count", RTS_ATTR_INT);
    const bool padded = max_count != nullptr && max_count->i > 0;
    answer.supported = 1;
    answer.needs_output_allocation = padded ? 0 : 1;
    answer.detail = padded ? "testing:nonzero_padded" : "testing:nonzero";
    return answer;
  }
  if (*op == Op::kScale && !typed_attr(node, "factor", RTS_ATTR_FLOAT)) {
    answer.detail = "testing: scale needs a real 'factor' attribute";
    return answer;
  }
  const kit::AttrDesc* dynamic = typed_attr(node, kDynamicOutputAttr, RTS_ATTR_INT);
  answer.supported = 1;
  answer.needs_output_allocation = dynamic != nullptr && dynamic->i == 1 ? 1 : 0;
  answer.detail = kernel_detail(*op);
  return answer;
}

std::unique_ptr<kit::Engine> TestingPlugin::build_engine(uint32_t, kit::GraphDesc graph) {
  const Config config = this->config();
  if (config.fail_build) fail(RTS_ERROR_DEVICE, *config.fail_build);
  return std::make_unique<Engine>(*this, std::move(graph));
}

void* TestingPlugin::device_alloc(uint32_t device, uint64_t size) {
  device_info(device);
  // malloc(0) may return NULL; every allocation gets a distinct pointer.
  void* ptr = std::malloc(size > 0 ? size : 1);
  if (!ptr) fail(RTS_ERROR_OUT_OF_MEMORY, "cannot allocate ", size, " bytes");
  std::lock_guard lock(memory_mutex_);
  allocations_[static_cast<const uint8_t*>(ptr)] = size;
  return ptr;
}

void TestingPlugin::device_free(uint32_t, void* ptr) {
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

void TestingPlugin::device_copy(uint32_t device, void* device_ptr, void* host_ptr, uint64_t size,
                                bool to_device) {
  device_info(device);
  if (size == 0) return;
  {
    std::lock_guard lock(memory_mutex_);
    // The range must lie inside one live allocation (an offset into it is
    // fine): a real device would fault otherwise.
    const auto* start = static_cast<const uint8_t*>(device_ptr);
    auto it = allocations_.upper_bound(start);
    const uint64_t offset = it == allocations_.begin() ? 0 : start - std::prev(it)->first;
    if (it == allocations_.begin() || offset >= std::max<uint64_t>(std::prev(it)->second, 1)) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "device_copy: pointer is not device memory");
    }
    --it;
    if (size > it->second - offset) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "device_copy of ", size, " bytes at offset ", offset,
           " overruns an allocation of ", it->second, " bytes");
    }
  }
  if (to_device) {
    std::memcpy(device_ptr, host_ptr, size);
  } else {
    std::memcpy(host_ptr, device_ptr, size);
  }
}

uint64_t TestingPlugin::device_allocations_live() const {
  std::lock_guard lock(memory_mutex_);
  return allocations_.size();
}

}  // namespace rtscope_testing

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  return &rtscope::kit::plugin_api<rtscope_testing::TestingPlugin>();
}
