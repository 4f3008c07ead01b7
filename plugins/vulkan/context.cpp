#include "context.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include "device.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "half.hpp"
#include "plugin.hpp"
#include "rtscope/kit/bindings.hpp"
#include "rtscope/kit/elapsed.hpp"
#include "rtscope/kit/output_binding.hpp"

namespace rtscope::vulkan {
namespace {

// Polling the fence before blocking saves the wake-up latency of
// vkWaitForFences (35-100 µs on NVIDIA, more than a decode step's host
// work). An execute is synchronous, so its thread has nothing else to do:
// it polls for as long as the plan's last submit took on the device, plus
// a margin, and blocks only beyond that (a stalled device) or past a cap.
// A CPU device (lavapipe) runs on the cores a poll would take from it, so
// there the poll stays short.
constexpr std::chrono::microseconds kMinFenceSpin{50};
constexpr std::chrono::microseconds kMaxFenceSpin{5000};

std::chrono::microseconds fence_spin(const Device& device, uint64_t last_gpu_ns) {
  if (device.physical().properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) return kMinFenceSpin;
  const auto expected = std::chrono::microseconds(last_gpu_ns / 1000 * 5 / 4);
  return std::clamp(expected + kMinFenceSpin, kMinFenceSpin, kMaxFenceSpin);
}

}  // namespace

Context::Context(const Engine& engine, const rts_runtime_settings* settings)
    : engine_(engine), device_(engine.device()), settings_(kit::read_settings(settings)) {
  if (!engine_.segments().empty()) {
    segmented_ = std::make_unique<SegmentedRun>(engine_, settings);
    return;
  }
  const auto pipelines_start = std::chrono::steady_clock::now();
  pipelines_ = std::make_unique<PipelineSet>(device_, engine_.shader_variants(), settings_.cache,
                                             pipeline_counters_);
  pipeline_create_ns_ = kit::elapsed_ns(pipelines_start);
  const VkDevice device = device_.handle();
  auto pool_info = vk_struct<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
  pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool_info.queueFamilyIndex = device_.caps().queue_family;
  check_vk(vkCreateCommandPool(device, &pool_info, nullptr, &pool_), "vkCreateCommandPool");
  auto buffer_info =
      vk_struct<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
  buffer_info.commandPool = pool_;
  buffer_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  buffer_info.commandBufferCount = 1;
  auto fence_info = vk_struct<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
  VkResult result = vkAllocateCommandBuffers(device, &buffer_info, &commands_);
  if (result == VK_SUCCESS) result = vkCreateFence(device, &fence_info, nullptr, &fence_);
  if (result == VK_SUCCESS && device_.caps().timestamp_bits > 0) {
    // Two timestamps around every submitted command buffer: gpu_time_ns.
    auto query_info = vk_struct<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
    query_info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    query_info.queryCount = 2;
    result = vkCreateQueryPool(device, &query_info, nullptr, &timestamps_);
  }
  if (result != VK_SUCCESS) {
    if (fence_ != VK_NULL_HANDLE) vkDestroyFence(device, fence_, nullptr);
    vkDestroyCommandPool(device, pool_, nullptr);
    check_vk(result, "vkAllocateCommandBuffers/vkCreateFence/vkCreateQueryPool");
  }
}

Context::~Context() {
  // Specialized pipelines still compiling go into the runtime cache when
  // done, so that the next process starts warm; without a cache they are
  // cancelled (the worker's destructor).
  if (settings_.cache != nullptr) worker_.finish();
  if (const std::string table = profile_.table(24); !table.empty()) {
    engine_.plugin().log(RTS_LOG_INFO,
                         str_cat("vulkan: engine '", engine_.graph().name,
                                 "' device profile (RTSCOPE_VULKAN_PROFILE): ", table));
  }
  const VkDevice device = device_.handle();
  if (in_flight_) {
    const VkResult result = vkWaitForFences(device, 1, &fence_, VK_TRUE, 10'000'000'000ull);
    if (result != VK_SUCCESS) {
      engine_.plugin().log(RTS_LOG_ERROR, str_cat("vulkan: destroying a context whose last submit "
                                                  "did not finish: vkWaitForFences returned ",
                                                  vk_result_name(result)));
    }
  }
  plans_.clear();
  if (timestamps_ != VK_NULL_HANDLE) vkDestroyQueryPool(device, timestamps_, nullptr);
  if (fence_ != VK_NULL_HANDLE) vkDestroyFence(device, fence_, nullptr);
  if (pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device, pool_, nullptr);
}

BufferRegion Context::device_region(const rts_tensor& tensor, const char* what,
                                    const std::string& name, rts_dtype device_dtype) const {
  const std::optional<BufferRegion> region = device_.tensors().find(tensor.data);
  if (!region) {
    fail_invalid(what, " '", name, "': bound as device memory, but ", tensor.data,
                 " is not live device memory of the vulkan plugin's device ", tensor.device,
                 " (the engine runs on '", device_.physical().properties.deviceName,
                 "'); bind memory from this plugin's device_alloc or host memory");
  }
  if (device_dtype != tensor.dtype) {
    fail(RTS_ERROR_UNSUPPORTED, what, " '", name, "': a ", dtype_name(tensor.dtype),
         " device tensor cannot be bound: this device stores ", dtype_name(tensor.dtype), " as ",
         dtype_name(device_dtype), " (no 16-bit storage); bind host memory instead");
  }
  const VkDeviceSize bytes = kit::tensor_bytes(tensor);
  if (region->size < bytes) {
    fail_invalid(what, " '", name, "': ", dtype_name(tensor.dtype),
                 shape_str({tensor.dims, tensor.rank}), " needs ", bytes,
                 " bytes but the device allocation holds ", region->size);
  }
  return *region;
}

void Context::check_inputs(const rts_execute_args& args) {
  kit::check_input_bindings(engine_.graph(), args);
  // Device-resident bindings: resolved to their ranges here (the handle is
  // never dereferenced), so the plan can use them in place.
  const std::vector<EngineValue>& values = engine_.values();
  device_bindings_.inputs.assign(args.n_inputs, std::nullopt);
  device_bindings_.outputs.assign(args.n_outputs, std::nullopt);
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& tensor = args.inputs[i];
    if (tensor.residency == RTS_RESIDENCY_HOST || tensor.data == nullptr) continue;
    const EngineValue& value = values[engine_.input_values()[i]];
    device_bindings_.inputs[i] = device_region(tensor, "input", value.name, value.device_dtype);
  }
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const rts_tensor& tensor = args.outputs[o];
    if (tensor.residency == RTS_RESIDENCY_HOST || tensor.data == nullptr) continue;
    const EngineValue& value = values[engine_.output_values()[o]];
    device_bindings_.outputs[o] = device_region(tensor, "output", value.name, value.device_dtype);
  }
}

ExecutionPlan& Context::plan_for(const rts_execute_args& args) {
  std::vector<int64_t>& key = plans_.key_input_shapes(args);
  // A plan encodes the ranges of device bindings: other ranges, other plan.
  auto add_binding = [&key](const std::optional<BufferRegion>& region) {
    key.push_back(region ? static_cast<int64_t>(reinterpret_cast<uintptr_t>(region->buffer)) : -1);
    if (region) key.push_back(static_cast<int64_t>(region->offset));
  };
  for (const auto& region : device_bindings_.inputs) add_binding(region);
  for (const auto& region : device_bindings_.outputs) add_binding(region);
  if (ExecutionPlan* found = plans_.find()) return *found;

  std::vector<Dims> input_dims;
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    input_dims.emplace_back(args.inputs[i].dims, args.inputs[i].dims + args.inputs[i].rank);
  }
  const bool first = plans_built_.load(std::memory_order_relaxed) == 0;
  const auto plan_start = std::chrono::steady_clock::now();
  std::unique_ptr<ExecutionPlan> plan =
      build_plan(engine_, input_dims, device_bindings_, *pipelines_);
  if (first) first_.plan_ns.store(kit::elapsed_ns(plan_start), std::memory_order_relaxed);
  plans_built_.fetch_add(1, std::memory_order_relaxed);
  if (engine_.plugin().profiling() && device_.caps().timestamp_bits > 0) {
    plan->profile = std::make_unique<PlanProfile>(
        device_, plan->commands.batch_labels(*pipelines_), plan->commands.dispatches(),
        plan->commands.barriers(), plan->commands.chained_waits());
  }
  const auto specialize_start = std::chrono::steady_clock::now();
  specialize(*plan);
  if (first) {
    first_.specialize_ns.store(kit::elapsed_ns(specialize_start), std::memory_order_relaxed);
  }
  engine_.plugin().log(
      RTS_LOG_DEBUG,
      str_cat("vulkan: engine '", engine_.graph().name, "': planned new input shapes (",
              plan->buffers.size(), " buffers, ", plan->commands.dispatches(), " dispatches, ",
              plan->commands.barriers(), " barriers, ", plan->commands.chained_waits(),
              " chained waits, ", plan->in_place_updates, " in-place cache updates)"));
  return plans_.insert(std::move(plan));
}

void Context::specialize(ExecutionPlan& plan) {
  if (settings_.kernel_specialization == RTS_KERNEL_SPECIALIZATION_NONE) return;
  plan.commands.specialize(*pipelines_, plan.specialized);
  if (plan.specialized.empty()) return;
  if (settings_.kernel_specialization == RTS_KERNEL_SPECIALIZATION_EAGER) {
    pipelines_->compile(plan.specialized, settings_.cache, specialized_counters_);
    return;
  }
  // Lazy: what the runtime cache already holds is created now (a warm
  // start runs specialized from its first dispatch); the rest compiles in
  // the background.
  pipelines_->create_cached(plan.specialized, settings_.cache, specialized_counters_);
  plan.compile_pending =
      std::any_of(plan.specialized.begin(), plan.specialized.end(),
                  [](const SpecializedPipeline* slot) { return !slot->finished(); });
}

void Context::start_background_compile(ExecutionPlan& plan) {
  if (!plan.compile_pending) return;
  plan.compile_pending = false;
  worker_.post([this, slots = plan.specialized](const std::atomic<bool>& cancel) {
    pipelines_->compile(slots, settings_.cache, specialized_counters_, &cancel);
  });
}

void Context::release_plan(ExecutionPlan& plan) {
  if (plan.recorded != VK_NULL_HANDLE)
    vkFreeCommandBuffers(device_.handle(), pool_, 1, &plan.recorded);
}

void Context::run_host_checks(const ExecutionPlan& plan, const rts_execute_args& args) const {
  std::vector<std::byte> fetched;  // a device-resident argument, read back
  for (const HostCheck& check : plan.checks) {
    const rts_tensor& tensor = args.inputs[check.input];
    const void* data = tensor.data;
    if (tensor.residency != RTS_RESIDENCY_HOST) {
      fetched.resize(kit::tensor_bytes(tensor));
      device_.tensors().copy(tensor.data, fetched.data(), fetched.size(), false);
      data = fetched.data();
    }
    if (check.kind == HostCheck::Kind::kPosition) {
      // One position for every batch row, or one per batch row.
      const int64_t count = element_count({tensor.dims, tensor.rank});
      for (int64_t row = 0; row < count; ++row) {
        const int64_t pos = static_cast<const int64_t*>(data)[row];
        if (pos < 0 || pos > check.limit - check.steps) {
          fail_node(*check.node, "pos[", row, "] = ", pos, " + ", check.steps,
                    " steps exceeds cache length ", check.limit, " (", shape_str(check.dims),
                    "); positions must lie in [0, cache length - steps]");
        }
      }
      continue;
    }
    const size_t count = static_cast<size_t>(element_count({tensor.dims, tensor.rank}));
    for (size_t i = 0; i < count; ++i) {
      const int64_t id = tensor.dtype == RTS_DTYPE_I32 ? static_cast<const int32_t*>(data)[i]
                                                       : static_cast<const int64_t*>(data)[i];
      if (id < 0 || id >= check.limit) {
        fail_node(*check.node, "id ", id, " at flat index ", i, " of ids ", shape_str(check.dims),
                  " is outside [0, ", check.limit, ")");
      }
    }
  }
}

void Context::stage_in(const ExecutionPlan& plan, const rts_execute_args& args) const {
  std::byte* staging = plan.staging.mapped();
  for (const StagedTensor& staged : plan.staged_inputs) {
    convert_elements(staging + staged.staging_offset, staged.device_dtype,
                     args.inputs[staged.binding].data, staged.host_dtype, staged.elements,
                     dtype_size(staged.device_dtype));
  }
  // A chained wait that gives up sets it (check_chain_progress).
  if (plan.commands.chained_waits() > 0) {
    std::memset(staging + plan.stall_word_offset, 0, sizeof(uint32_t));
  }
}

DispatchMix Context::record(const ExecutionPlan& plan, VkCommandBuffer commands,
                            VkCommandBufferUsageFlags usage) const {
  auto begin = vk_struct<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  begin.flags = usage;
  check_vk(vkBeginCommandBuffer(commands, &begin), "vkBeginCommandBuffer");
  if (timestamps_ != VK_NULL_HANDLE) {
    vkCmdResetQueryPool(commands, timestamps_, 0, 2);
    vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamps_, 0);
  }
  // Device-resident bindings and reused buffers were last touched by an
  // earlier submit (or device_copy): order this one after it.
  auto barrier = vk_struct<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                          VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags stages =
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vkCmdPipelineBarrier(commands, stages, stages, 0, 1, &barrier, 0, nullptr, 0, nullptr);
  const DispatchMix mix =
      plan.commands.record(commands, *pipelines_, device_.pipeline_layout(),
                           plan.profile ? plan.profile->pool() : VK_NULL_HANDLE);
  if (timestamps_ != VK_NULL_HANDLE) {
    vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps_, 1);
  }
  check_vk(vkEndCommandBuffer(commands), "vkEndCommandBuffer");
  return mix;
}

VkCommandBuffer Context::recorded_commands(ExecutionPlan& plan) {
  // A recording that ran generic pipelines for specializations still
  // compiling is replaced once every one of them is finished: one more
  // recording, not one per pipeline that lands.
  if (plan.recorded != VK_NULL_HANDLE && plan.mix.waiting > 0 &&
      std::all_of(plan.specialized.begin(), plan.specialized.end(),
                  [](const SpecializedPipeline* slot) { return slot->finished(); })) {
    vkFreeCommandBuffers(device_.handle(), pool_, 1, &plan.recorded);
    plan.recorded = VK_NULL_HANDLE;
  }
  if (plan.recorded != VK_NULL_HANDLE) {
    replays_.fetch_add(1, std::memory_order_relaxed);
    return plan.recorded;
  }
  auto info =
      vk_struct<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
  info.commandPool = pool_;
  info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  info.commandBufferCount = 1;
  VkCommandBuffer recorded = VK_NULL_HANDLE;
  check_vk(vkAllocateCommandBuffers(device_.handle(), &info, &recorded),
           "vkAllocateCommandBuffers (whole-graph capture)");
  try {
    plan.mix = record(plan, recorded, 0);
  } catch (...) {
    vkFreeCommandBuffers(device_.handle(), pool_, 1, &recorded);
    throw;
  }
  plan.recorded = recorded;
  recordings_.fetch_add(1, std::memory_order_relaxed);
  return recorded;
}

using Clock = std::chrono::steady_clock;

Context::SubmitTimes Context::submit_and_wait(ExecutionPlan& plan) {
  // The first submit's phases are timed; later ones read no clock.
  const bool first = submits_.load(std::memory_order_relaxed) == 0;
  const auto record_start = first ? Clock::now() : Clock::time_point{};
  VkCommandBuffer commands = commands_;
  if (settings_.graph_capture == RTS_GRAPH_CAPTURE_WHOLE_GRAPH) {
    commands = recorded_commands(plan);
  } else {
    check_vk(vkResetCommandBuffer(commands_, 0), "vkResetCommandBuffer");
    plan.mix = record(plan, commands_, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT);
  }
  if (first) first_.record_ns.store(kit::elapsed_ns(record_start), std::memory_order_relaxed);
  if (!constants_ready_) {
    // Everything up to here overlapped the engine's background upload.
    const uint64_t waited = engine_.wait_for_constants();
    if (first) first_.upload_wait_ns.store(waited, std::memory_order_relaxed);
    constants_ready_ = true;
  }
  SubmitTimes times;
  if (first || plan.profile) times.submit_start = Clock::now();
  check_vk(vkResetFences(device_.handle(), 1, &fence_), "vkResetFences");
  device_.submit(commands, fence_);
  if (plan.profile) times.submitted = Clock::now();
  submits_.fetch_add(1, std::memory_order_relaxed);
  in_flight_ = true;
  // The first submit of a lazy plan has its generic pipelines bound: the
  // specialized ones compile from here on, overlapping the device's work.
  start_background_compile(plan);
  device_.wait(fence_, fence_spin(device_, plan.last_gpu_ns));
  in_flight_ = false;
  if (first) {
    first_.device_ns.store(kit::elapsed_ns(times.submit_start), std::memory_order_relaxed);
  }
  if (plan.profile) times.signalled = Clock::now();
  plan.last_gpu_ns = read_gpu_time();
  return times;
}

uint64_t Context::read_gpu_time() {
  if (timestamps_ == VK_NULL_HANDLE) return 0;
  uint64_t ticks[2] = {0, 0};
  if (vkGetQueryPoolResults(device_.handle(), timestamps_, 0, 2, sizeof(ticks), ticks,
                            sizeof(uint64_t), VK_QUERY_RESULT_64_BIT) != VK_SUCCESS) {
    return 0;  // not available: the execute is simply not timed
  }
  const uint32_t bits = device_.caps().timestamp_bits;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  const uint64_t elapsed = (ticks[1] - ticks[0]) & mask;
  const auto ns =
      static_cast<uint64_t>(static_cast<double>(elapsed) * device_.caps().timestamp_period_ns);
  gpu_time_ns_.fetch_add(ns, std::memory_order_relaxed);
  gpu_timed_executes_.fetch_add(1, std::memory_order_relaxed);
  return ns;
}

// Staging is the cost a caller can avoid (device_alloc bindings), and easy
// to miss: say once per engine what was staged.
void Context::report_first_staging(const ExecutionPlan& plan) const {
  if (plan.staged_inputs.empty() && plan.staged_outputs.empty()) return;
  if (!engine_.first_staging()) return;
  const bool input = !plan.staged_inputs.empty();
  const StagedTensor& first = input ? plan.staged_inputs.front() : plan.staged_outputs.front();
  const size_t count = plan.staged_inputs.size() + plan.staged_outputs.size();
  engine_.plugin().log(
      RTS_LOG_INFO,
      str_cat("vulkan: engine '", engine_.graph().name, "' stages host-resident ",
              input ? "input '" : "output '", engine_.values()[first.value].name, "'",
              count > 1 ? str_cat(" and ", count - 1, count == 2 ? " more tensor" : " more tensors")
                        : std::string(),
              " (", plan.staged_in_bytes + plan.staged_out_bytes,
              " bytes per execute) through host-visible memory; tensors from the plugin's "
              "device_alloc are used in place"));
}

void Context::stage_out(const ExecutionPlan& plan, const rts_execute_args& args) const {
  const std::byte* staging = plan.staging.mapped();
  for (const StagedTensor& staged : plan.staged_outputs) {
    convert_elements(args.outputs[staged.binding].data, staged.host_dtype,
                     staging + staged.staging_offset, staged.device_dtype, staged.elements,
                     dtype_size(staged.device_dtype));
  }
}

// A chained batch whose wait gave up (shaders/chain.glsl) ran on inputs
// not yet written: fail rather than hand those results on. The stall word
// is host-visible memory the waiting shaders write directly.
void Context::check_chain_progress(const ExecutionPlan& plan) const {
  if (plan.commands.chained_waits() == 0) return;
  uint32_t stalled = 0;
  std::memcpy(&stalled, plan.staging.mapped() + plan.stall_word_offset, sizeof(stalled));
  if (stalled == 0) return;
  fail(RTS_ERROR_DEVICE, "vulkan: engine '", engine_.graph().name,
       "': a chained batch waited past its bound for the batch before it, so this execute's "
       "results are wrong; the device may not start dispatches in order: set "
       "RTSCOPE_VULKAN_CHAIN=0");
}

void Context::execute(const rts_execute_args& args) {
  if (segmented_) return segmented_->execute(args);
  // Device tensors in a representation the shaders do not read (f16 on a
  // device storing f16 as f32) run through host shadows.
  const auto needs_shadow = [this](bool is_output, uint32_t index) {
    const std::vector<uint32_t>& ids = is_output ? engine_.output_values() : engine_.input_values();
    if (index >= ids.size()) return false;  // check_inputs reports the count
    const EngineValue& value = engine_.values()[ids[index]];
    return value.device_dtype != value.dtype;
  };
  const bool arrays_bound = (args.n_inputs == 0 || args.inputs != nullptr) &&
                            (args.n_outputs == 0 || args.outputs != nullptr);
  if (arrays_bound && shadows_.prepare(args, device_.tensors(), needs_shadow)) {
    run(shadows_.args());
    shadows_.finish(args, device_.tensors());
    shadowed_bytes_.fetch_add(shadows_.bytes(), std::memory_order_relaxed);
    return;
  }
  run(args);
}

void Context::run(const rts_execute_args& args) {
  const auto start = engine_.plugin().profiling() ? Clock::now() : Clock::time_point{};
  check_inputs(args);
  const uint64_t plans_before = plans_built_.load(std::memory_order_relaxed);
  ExecutionPlan& plan = plan_for(args);
  const bool plan_built = plans_built_.load(std::memory_order_relaxed) != plans_before;
  run_host_checks(plan, args);
  std::vector<const Dims*> output_dims;
  for (uint32_t id : engine_.output_values()) output_dims.push_back(&plan.dims[id]);
  output_allocations_.fetch_add(
      kit::bind_outputs(engine_, output_dims, args, /*device_outputs=*/true),
      std::memory_order_relaxed);
  report_first_staging(plan);
  stage_in(plan, args);
  const SubmitTimes times = submit_and_wait(plan);
  check_chain_progress(plan);
  stage_out(plan, args);
  if (plan.profile) {
    const HostSpans host{kit::ns_between(start, times.submit_start),
                         kit::ns_between(times.submit_start, times.submitted),
                         kit::ns_between(times.submitted, times.signalled),
                         kit::elapsed_ns(times.signalled)};
    profile_.collect(device_, *plan.profile, plan_built ? nullptr : &host);
  }

  executes_.fetch_add(1, std::memory_order_relaxed);
  dispatches_.fetch_add(plan.commands.dispatches(), std::memory_order_relaxed);
  specialized_dispatches_.fetch_add(plan.mix.specialized, std::memory_order_relaxed);
  generic_dispatches_.fetch_add(plan.mix.generic, std::memory_order_relaxed);
  barriers_.fetch_add(plan.commands.barriers(), std::memory_order_relaxed);
  chained_waits_.fetch_add(plan.commands.chained_waits(), std::memory_order_relaxed);
  staged_in_bytes_.fetch_add(plan.staged_in_bytes, std::memory_order_relaxed);
  staged_out_bytes_.fetch_add(plan.staged_out_bytes, std::memory_order_relaxed);
  in_place_updates_.fetch_add(plan.in_place_updates, std::memory_order_relaxed);
  fused_residual_adds_.fetch_add(plan.fused_residual_adds, std::memory_order_relaxed);
  fused_row_norms_.fetch_add(plan.fused_row_norms, std::memory_order_relaxed);
  fused_gated_products_.fetch_add(plan.fused_gated_products, std::memory_order_relaxed);
  fused_ropes_.fetch_add(plan.fused_ropes, std::memory_order_relaxed);
  fused_cache_writes_.fetch_add(plan.fused_cache_writes, std::memory_order_relaxed);
  fused_argmaxes_.fetch_add(plan.fused_argmaxes, std::memory_order_relaxed);
  skinny_coop_products_.fetch_add(plan.skinny_coop_products, std::memory_order_relaxed);
  f16_math_products_.fetch_add(plan.f16_math_products, std::memory_order_relaxed);
  spread_products_.fetch_add(plan.spread_products, std::memory_order_relaxed);
  uint64_t device_bytes = 0;
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    if (device_bindings_.inputs[i]) device_bytes += kit::tensor_bytes(args.inputs[i]);
  }
  device_bound_bytes_.fetch_add(device_bytes, std::memory_order_relaxed);
}

void Context::report_counters(const rts_counter_sink& sink) const {
  if (sink.counter == nullptr) return;
  if (segmented_) return segmented_->report_counters(sink);
  auto report = [&sink](const char* name, uint64_t value) { sink.counter(sink.user, name, value); };
  auto load = [](const std::atomic<uint64_t>& value) {
    return value.load(std::memory_order_relaxed);
  };
  report("executes", load(executes_));
  report("submits", load(submits_));
  report("dispatches", load(dispatches_));
  report("barriers", load(barriers_));
  report("chained_waits", load(chained_waits_));
  report("plans_built", load(plans_built_));
  report("staged_in_bytes", load(staged_in_bytes_));
  report("staged_out_bytes", load(staged_out_bytes_));
  // Bytes copied between host memory and the device for bindings, both ways.
  report("staged_bytes", load(staged_in_bytes_) + load(staged_out_bytes_) + load(shadowed_bytes_));
  report("shadowed_bytes", load(shadowed_bytes_));
  report("device_bound_bytes", load(device_bound_bytes_));
  report("records", load(recordings_));
  report("replays", load(replays_));
  report("device_allocations_live", device_.tensors().live());
  report("in_place_updates", load(in_place_updates_));
  // Residual adds run inside the projection producing their input.
  report("fused_residual_adds", load(fused_residual_adds_));
  // rmsnorms run inside the projections reading their output.
  report("fused_row_norms", load(fused_row_norms_));
  report("folded_norm_gains", engine_.folded_norm_gains());
  // SwiGLU gate/up/silu/mul groups run as one gated projection.
  report("fused_gated_products", load(fused_gated_products_));
  // ropes run inside the projection producing their input.
  report("fused_ropes", load(fused_ropes_));
  report("fused_cache_writes", load(fused_cache_writes_));
  report("fused_argmaxes", load(fused_argmaxes_));
  // Skinny linears (few rows) run on tensor cores (skinny_coop.comp).
  report("skinny_coop_products", load(skinny_coop_products_));
  report("f16_math_products", load(f16_math_products_));
  // Split-K products alone in their batch that took larger teams to fill
  // more workgroups (kMatmulSpreadTeams).
  report("spread_products", load(spread_products_));
  report("output_allocations", load(output_allocations_));
  report("pipelines_created", load(pipeline_counters_.created));
  report("pipeline_cache_hits", load(pipeline_counters_.cache_hits));
  report("pipeline_cache_misses", load(pipeline_counters_.cache_misses));
  report("pipeline_cache_rejected", load(pipeline_counters_.cache_rejected));
  // Wall time of creating this context's generic pipelines (from the
  // runtime cache when warm): the start-up phase the runner reports.
  report("pipeline_create_ns", pipeline_create_ns_);
  // Device time from the first to the last command of each submit, summed
  // (timestamps; 0 on devices without them).
  report("gpu_time_ns", load(gpu_time_ns_));
  report("gpu_timed_executes", load(gpu_timed_executes_));
  // Shape specialization: which pipelines the dispatches ran, and the
  // specialized pipelines with their own cache traffic.
  report("generic_dispatches", load(generic_dispatches_));
  report("specialized_dispatches", load(specialized_dispatches_));
  report("specialized_pipelines", load(specialized_counters_.created));
  report("specializations_pending", pipelines_->specializations_pending());
  report("specialization_failures", load(specialized_counters_.failed));
  report("specialized_cache_hits", load(specialized_counters_.cache_hits));
  report("specialized_cache_misses", load(specialized_counters_.cache_misses));
  report("specialized_cache_rejected", load(specialized_counters_.cache_rejected));
  // Start-up phases (the runner's plugin phases): plugin-wide ones inside
  // the host's plugin load, the device's and the engine's inside its build.
  const VulkanPlugin& plugin = engine_.plugin();
  const Engine::UploadReport upload = engine_.upload_report();
  report("startup_instance_ns", plugin.instance_create_ns());
  report("startup_devices_list_ns", plugin.devices_list_ns());
  report("startup_device_create_ns", device_.create_ns());
  report("startup_device_wait_ns", plugin.device_wait_ns());
  report("startup_constants_alloc_ns", upload.alloc_ns);
  report("startup_staging_alloc_ns", upload.transfer.staging_alloc_ns);
  report("startup_upload_fill_ns", upload.transfer.fill_ns);
  report("startup_upload_drain_ns", upload.transfer.drain_ns);
  report("startup_upload_stall_ns", upload.transfer.stall_ns);
  // Inside the first inference: the context's generic pipelines (from the
  // runtime cache when warm), then its first execute's plan, specialized
  // pipelines, recording and submit until the fence signalled.
  report("startup_pipelines_ns", pipeline_create_ns_);
  report("startup_first_plan_ns", load(first_.plan_ns));
  report("startup_first_specialize_ns", load(first_.specialize_ns));
  report("startup_first_record_ns", load(first_.record_ns));
  report("startup_first_submit_ns", load(first_.device_ns));
  // How long the first submit waited for the engine's background upload
  // (RTSCOPE_VULKAN_UPLOAD_OVERLAP), and whether it ran in the background.
  report("startup_upload_wait_ns", load(first_.upload_wait_ns));
  report("upload_overlapped", upload.overlapped ? 1 : 0);
  report("upload_direct_bytes", upload.transfer.direct_bytes);
  report("upload_staged_bytes", upload.transfer.staged_bytes);
  report("upload_chunks", upload.transfer.chunks);
  report("upload_shared_bytes", upload.shared_bytes);
  // Plugin-wide: validation messages are not tied to one context.
  report("validation_errors", engine_.plugin().validation_errors());
  report("validation_enabled", engine_.plugin().validation_enabled() ? 1 : 0);
}

}  // namespace rtscope::vulkan
