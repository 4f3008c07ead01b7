#include "plugin.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "engine.hpp"
#include "error.hpp"
#include "rtscope/kit/elapsed.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

// A switch's value, in any case: true for 1/true/on/yes, false for
// 0/false/off/no, nullopt for anything else.
std::optional<bool> parse_switch(const char* value) {
  std::string text(value);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "1" || text == "true" || text == "on" || text == "yes") return true;
  if (text == "0" || text == "false" || text == "off" || text == "no") return false;
  return std::nullopt;
}

// Variable `name` as a switch: `fallback` when unset or empty, false for
// anything parse_switch does not take as true.
bool env_flag(const char* name, bool fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return parse_switch(value).value_or(false);
}

constexpr uint32_t kNvidiaVendorId = 0x10de;

// RTSCOPE_VULKAN_CHAIN: unset or auto (the device decides), on, off, or
// not a choice.
enum class ChainChoice : uint8_t { kAuto, kOn, kOff, kInvalid };

ChainChoice parse_chain_choice(const char* value) {
  if (value == nullptr || *value == '\0' || std::string_view(value) == "auto") {
    return ChainChoice::kAuto;
  }
  const std::optional<bool> on = parse_switch(value);
  if (!on) return ChainChoice::kInvalid;
  return *on ? ChainChoice::kOn : ChainChoice::kOff;
}

}  // namespace

VulkanPlugin::VulkanPlugin(const rts_host_api* host, uint32_t abi_minor)
    : kit::Backend(host, abi_minor, kFormat),
      profiling_(env_flag("RTSCOPE_VULKAN_PROFILE", false)) {
  const LogFn log = [this](rts_log_level level, const std::string& message) {
    this->log(level, message);
  };
  auto start = std::chrono::steady_clock::now();
  instance_ = std::make_unique<Instance>(log, env_flag("RTSCOPE_VULKAN_VALIDATION", false),
                                         validation_errors_);
  instance_create_ns_ = kit::elapsed_ns(start);
  start = std::chrono::steady_clock::now();
  physical_ = list_devices(*instance_, std::getenv("RTSCOPE_VULKAN_DEVICE"),
                           env_flag("RTSCOPE_VULKAN_F16_STORAGE", true), log);
  devices_list_ns_ = kit::elapsed_ns(start);
  const char* skinny = std::getenv("RTSCOPE_VULKAN_SKINNY");
  const std::optional<SkinnyMode> skinny_mode = parse_skinny_mode(skinny);
  if (!skinny_mode) {
    fail_invalid("RTSCOPE_VULKAN_SKINNY='", skinny,
                 "' is not a skinny-product choice: set coop, matvec or leave it unset");
  }
  const char* coop_name = std::getenv("RTSCOPE_VULKAN_SKINNY_COOP");
  const bool coop_named = coop_name != nullptr && *coop_name != '\0';
  const SkinnyCoopBuild* coop_build = find_skinny_coop_build(coop_name);
  if (coop_named && coop_build == nullptr) {
    fail_invalid("RTSCOPE_VULKAN_SKINNY_COOP='", coop_name,
                 "' is not a build of the tensor-core skinny product: set one of ",
                 skinny_coop_build_names(), " or leave it unset");
  }
  // matvec_t's split-K sizes: a value the parser rejects fails the load and
  // says what the variable takes.
  const auto matvec_count = [](const char* variable, auto parse, uint32_t fallback,
                               const auto& what) {
    const char* value = std::getenv(variable);
    const std::optional<uint32_t> count = parse(value, fallback);
    if (!count) fail_invalid(variable, "='", value, "' is not ", what, " or leave it unset");
    return *count;
  };
  const uint32_t split_rows =
      matvec_count("RTSCOPE_VULKAN_MATVEC_SPLIT", parse_matvec_split, kMatvecSplitRows,
                   "a count of weight rows per workgroup: set 2, 4, 8, 16, 0 (off)");
  const uint32_t block_rows =
      matvec_count("RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS", parse_matvec_block_rows,
                   kMatvecSplitBlockRows, "a count of rows per pass over the weights: set 2, 4, 8");
  const std::string_view team_slot_choices = "set 1, 2, 4, 8, 16, or 0 (one team per workgroup)";
  const uint32_t team_slots = matvec_count(
      "RTSCOPE_VULKAN_MATVEC_TEAM_SLOTS", parse_matvec_team_slots, kMatvecTeamSlots,
      str_cat("a count of K slots per invocation of a split-K team: ", team_slot_choices));
  const uint32_t few_row_team_slots = matvec_count(
      "RTSCOPE_VULKAN_MATVEC_FEW_ROW_TEAM_SLOTS", parse_matvec_team_slots, kMatvecFewRowTeamSlots,
      str_cat("a count of K slots per invocation of a split-K team for up to ", kMatvecFewRows,
              " rows: ", team_slot_choices));
  const uint32_t min_groups = matvec_count(
      "RTSCOPE_VULKAN_MATVEC_MIN_GROUPS", parse_matvec_groups, kMatvecSplitMinGroups,
      "the fewest workgroups a split-K product aims to fill: set a count up to 65535, or 0 (off)");
  const bool fold_norm_gains = env_flag("RTSCOPE_VULKAN_FOLD_NORM_GAINS", true);
  const bool fuse_cache_writes = env_flag("RTSCOPE_VULKAN_FUSE_CACHE_WRITES", true);
  const bool fuse_attention_combine = env_flag("RTSCOPE_VULKAN_FUSE_ATTENTION_COMBINE", true);
  const bool fuse_argmax = env_flag("RTSCOPE_VULKAN_FUSE_ARGMAX", true);
  const bool f16_products = env_flag("RTSCOPE_VULKAN_F16_PRODUCTS", false);
  const bool solo_teams = env_flag("RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS", false);
  const bool chain_stall_diagnostic = env_flag("RTSCOPE_VULKAN_DIAG_CHAIN_STALL", false);
  const bool pipeline_statistics = env_flag("RTSCOPE_VULKAN_PIPELINE_STATS", false);
  const char* chain_value = std::getenv("RTSCOPE_VULKAN_CHAIN");
  const ChainChoice chain = parse_chain_choice(chain_value);
  if (chain == ChainChoice::kInvalid) {
    fail_invalid("RTSCOPE_VULKAN_CHAIN='", chain_value,
                 "' is not a choice: set 1 (on), 0 (off), auto or leave it unset");
  }
  const uint32_t matvec_groups =
      matvec_count("RTSCOPE_VULKAN_MATVEC_GROUPS", parse_matvec_groups, kMatvecMaxGroups,
                   "a cap on the workgroups of a skinny product: set a count up to 65535, or 0 "
                   "(off)");
  const char* matvec_workgroup_value = std::getenv("RTSCOPE_VULKAN_MATVEC_WORKGROUP");
  const std::optional<uint32_t> matvec_workgroup = parse_matvec_workgroup(matvec_workgroup_value);
  if (!matvec_workgroup) {
    fail_invalid("RTSCOPE_VULKAN_MATVEC_WORKGROUP='", matvec_workgroup_value,
                 "' is not a workgroup size of matvec_t: set 64, 128, 256 or 512, or leave it "
                 "unset");
  }
  for (PhysicalDevice& device : physical_) {
    device.caps.skinny = *skinny_mode;
    // The device decides whether the split path can run; the variables
    // only size or disable it.
    if (device.caps.matvec_split_rows != 0) device.caps.matvec_split_rows = split_rows;
    if (*matvec_workgroup != 0) {
      const VkPhysicalDeviceLimits& limits = device.properties.limits;
      const uint32_t shared = matvec_shared_bytes(*matvec_workgroup, device.caps.matvec_split_rows);
      if (*matvec_workgroup < device.caps.subgroup_size ||
          *matvec_workgroup > limits.maxComputeWorkGroupInvocations ||
          *matvec_workgroup > limits.maxComputeWorkGroupSize[0] ||
          shared > device.caps.max_shared_memory) {
        fail_invalid(
            "RTSCOPE_VULKAN_MATVEC_WORKGROUP=", *matvec_workgroup, " does not fit device '",
            device.properties.deviceName, "': its subgroups have ", device.caps.subgroup_size,
            " invocations, its workgroups at most ",
            std::min(limits.maxComputeWorkGroupInvocations, limits.maxComputeWorkGroupSize[0]),
            ", and matvec_t would need ", shared, " of its ", device.caps.max_shared_memory,
            " bytes of shared memory: choose another size");
      }
      device.caps.matvec_workgroup = *matvec_workgroup;
    }
    device.caps.matvec_split_block_rows = block_rows;
    device.caps.matvec_team_slots = team_slots;
    device.caps.matvec_few_row_team_slots = few_row_team_slots;
    device.caps.matvec_min_groups = min_groups;
    device.caps.matvec_solo_teams = solo_teams;
    device.caps.fold_norm_gains = fold_norm_gains;
    device.caps.fuse_cache_writes = fuse_cache_writes;
    device.caps.f16_products = f16_products && device.caps.shader_float16;
    // The combining block's Device-scope atomic and barrier are invalid
    // under a memory model without its device scope.
    const bool device_scope_atomics =
        !device.caps.memory_model || device.caps.memory_model_device_scope;
    device.caps.fuse_attention_combine = fuse_attention_combine && device_scope_atomics;
    // The fused argmax counts its workgroups the same way.
    device.caps.fuse_argmax = fuse_argmax && device_scope_atomics;
    // Chained batches wait for earlier workgroups to finish, which needs a
    // device that starts them in order: on by default where measured
    // (NVIDIA, and lavapipe, which runs dispatches one after another).
    const bool chain_measured = device.properties.vendorID == kNvidiaVendorId ||
                                device.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    device.caps.chain_stall_diagnostic = chain_stall_diagnostic;
    device.caps.chain_batches =
        (chain == ChainChoice::kAuto ? chain_measured : chain == ChainChoice::kOn) &&
        device_scope_atomics && device.caps.subgroup_arithmetic;
    device.caps.matvec_groups = matvec_groups;
    device.caps.pipeline_statistics =
        pipeline_statistics && supports_pipeline_statistics(device.handle);
    const uint32_t shared = device.caps.max_shared_memory;
    const uint32_t invocations = device.properties.limits.maxComputeWorkGroupInvocations;
    const SkinnyCoopBuild& build =
        coop_named ? *coop_build : default_skinny_coop_build(shared, invocations);
    device.caps.skinny_coop = &build;
    if (device.caps.coop_matrix_f16 && !fits_skinny_coop_build(build, shared, invocations)) {
      fail_invalid("RTSCOPE_VULKAN_SKINNY_COOP=", build.name, " needs ", build.shared_bytes,
                   " bytes of shared memory and ", build.invocations,
                   "-invocation workgroups; device '", device.properties.deviceName, "' has ",
                   shared, " and ", invocations, ": choose another build");
    }
  }
  devices_.resize(physical_.size());
  for (uint32_t i = 0; i < physical_.size(); ++i) {
    const PhysicalDevice& device = physical_[i];
    log(i == 0 ? RTS_LOG_INFO : RTS_LOG_DEBUG,
        str_cat("vulkan: device ", i, (i == 0 ? " (default)" : ""), ": '",
                device.properties.deviceName, "', ", device_type_name(device.properties.deviceType),
                ", enumeration index ", device.enumeration_index, ", ", device.fingerprint,
                ", f16 tensor cores: ",
                device.caps.coop_matrix_f16 ? "yes" : "no (" + device.caps.coop_matrix_note + ")",
                ", skinny products: ", skinny_mode_name(device.caps.skinny),
                device.caps.coop_matrix_f16 ? str_cat(" (", device.caps.skinny_coop->name, ")")
                                            : std::string(),
                !f16_products ? ""
                : device.caps.f16_products
                    ? ", f16 products: yes"
                    : ", f16 products: no (needs shaderFloat16 and 16-bit storage)",
                !pipeline_statistics              ? ""
                : device.caps.pipeline_statistics ? ", pipeline statistics: yes"
                                                  : ", pipeline statistics: no (the driver lacks "
                                                    "VK_KHR_pipeline_executable_properties)"));
  }
  // Opening the default device is driver work (tens of milliseconds on a
  // discrete GPU) that needs nothing from the host: done on a thread, it
  // overlaps whatever the host does before it builds the first engine.
  if (!physical_.empty() && env_flag("RTSCOPE_VULKAN_EAGER_DEVICE", true)) {
    opening_default_ = std::async(std::launch::async, [this, log] {
      return std::make_unique<Device>(physical_.front(), log);
    });
  }
}

VulkanPlugin::~VulkanPlugin() {
  if (opening_default_.valid()) {
    try {
      opening_default_.get();  // never used: closed here, before the instance
    } catch (const std::exception& e) {
      log(RTS_LOG_DEBUG, str_cat("vulkan: opening the default device failed: ", e.what()));
    }
  }
  devices_.clear();  // logical devices before the instance
  instance_.reset();
}

const PhysicalDevice& VulkanPlugin::physical(uint32_t device) const {
  if (device >= physical_.size()) {
    fail_invalid("the vulkan plugin has ", physical_.size(), " device(s) (0..",
                 physical_.size() - 1, "), got device ", device);
  }
  return physical_[device];
}

Device& VulkanPlugin::device(uint32_t device) {
  const PhysicalDevice& chosen = physical(device);
  std::lock_guard lock(devices_mutex_);
  if (!devices_[device] && device == 0 && opening_default_.valid()) {
    const auto start = std::chrono::steady_clock::now();
    // Rethrows what opening it threw; the next call then opens it here.
    devices_[0] = opening_default_.get();
    device_wait_ns_.store(kit::elapsed_ns(start), std::memory_order_relaxed);
  }
  if (!devices_[device]) {
    devices_[device] = std::make_unique<Device>(
        chosen, [this](rts_log_level level, const std::string& message) { log(level, message); });
  }
  return *devices_[device];
}

std::unique_ptr<kit::Engine> VulkanPlugin::build_engine(uint32_t device, GraphDesc graph) {
  return std::make_unique<Engine>(*this, device, std::move(graph));
}

void* VulkanPlugin::device_alloc(uint32_t device, uint64_t size) {
  return this->device(device).tensors().allocate(size);
}

void VulkanPlugin::device_free(uint32_t device, void* ptr) {
  if (!this->device(device).tensors().free(ptr)) {
    log(RTS_LOG_ERROR, str_cat("vulkan: device_free of a pointer that is not live device "
                               "memory of device ",
                               device, "; ignored"));
  }
}

void VulkanPlugin::device_copy(uint32_t device, void* device_ptr, void* host_ptr, uint64_t size,
                               bool to_device) {
  this->device(device).tensors().copy(device_ptr, host_ptr, size, to_device);
}

}  // namespace rtscope::vulkan
