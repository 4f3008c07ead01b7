#include "context.hpp"

#include <chrono>
#include <cstring>

#include "device.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "half.hpp"
#include "plugin.hpp"
#include "plugin_kit/output_binding.hpp"

namespace rtscope::vulkan {
namespace {

// Polling the fence this long before blocking saves the wake-up latency of
// vkWaitForFences on short submissions (measured at 35-50 µs on NVIDIA).
constexpr std::chrono::microseconds kFenceSpin{50};

}  // namespace

ContextSettings read_settings(const rts_runtime_settings* settings) {
  ContextSettings copy;
  if (settings == nullptr) return copy;
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, kernel_specialization)) {
    copy.kernel_specialization = settings->kernel_specialization;
  }
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, graph_capture)) {
    copy.graph_capture = settings->graph_capture;
  }
  if (RTS_HAS_FIELD(settings, rts_runtime_settings, cache)) copy.cache = settings->cache;
  if (copy.kernel_specialization < RTS_KERNEL_SPECIALIZATION_LAZY ||
      copy.kernel_specialization > RTS_KERNEL_SPECIALIZATION_NONE) {
    fail_invalid("unknown kernel_specialization ", static_cast<int>(copy.kernel_specialization));
  }
  if (copy.graph_capture < RTS_GRAPH_CAPTURE_DISABLED ||
      copy.graph_capture > RTS_GRAPH_CAPTURE_WHOLE_GRAPH) {
    fail_invalid("unknown graph_capture ", static_cast<int>(copy.graph_capture));
  }
  return copy;
}

Context::Context(const Engine& engine, const rts_runtime_settings* settings)
    : engine_(engine), device_(engine.device()), settings_(read_settings(settings)) {
  pipelines_ = std::make_unique<PipelineSet>(device_, engine_.shader_variants(), settings_.cache,
                                             pipeline_counters_);
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
  if (result != VK_SUCCESS) {
    vkDestroyCommandPool(device, pool_, nullptr);
    check_vk(result, "vkAllocateCommandBuffers/vkCreateFence");
  }
}

Context::~Context() {
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
  if (fence_ != VK_NULL_HANDLE) vkDestroyFence(device, fence_, nullptr);
  if (pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device, pool_, nullptr);
}

void Context::check_inputs(const rts_execute_args& args) const {
  const GraphDesc& graph = engine_.graph();
  if (args.n_inputs != graph.inputs.size() || args.n_outputs != graph.outputs.size()) {
    fail_invalid("engine '", graph.name, "' binds ", graph.inputs.size(), " inputs and ",
                 graph.outputs.size(), " outputs, got ", args.n_inputs, " and ", args.n_outputs);
  }
  if ((args.n_inputs > 0 && args.inputs == nullptr) ||
      (args.n_outputs > 0 && args.outputs == nullptr)) {
    fail_invalid("execute arguments have NULL input or output arrays");
  }
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& tensor = args.inputs[i];
    const ValueDesc& declared = graph.inputs[i];
    if (tensor.name != nullptr && declared.name != tensor.name) {
      fail_invalid("input ", i, " is bound as '", tensor.name, "' but the engine's input ", i,
                   " is '", declared.name, "'");
    }
    if (tensor.dtype != declared.dtype) {
      fail_invalid("input '", declared.name, "': bound tensor is ", dtype_name(tensor.dtype),
                   " but the engine expects ", declared.type_str());
    }
    if (tensor.rank > RTS_MAX_RANK) {
      fail_invalid("input '", declared.name, "': rank ", tensor.rank, " exceeds RTS_MAX_RANK");
    }
    if (tensor.residency != RTS_RESIDENCY_HOST) {
      fail(RTS_ERROR_UNSUPPORTED, "input '", declared.name,
           "': the vulkan plugin reads host memory only (device residency is not implemented "
           "yet)");
    }
    for (uint32_t axis = 0; axis < tensor.rank; ++axis) {
      if (tensor.dims[axis] < 0) {
        fail_invalid("input '", declared.name, "': bound shape ",
                     shape_str({tensor.dims, tensor.rank}), " has a negative dim");
      }
    }
    const size_t bytes = plugin_kit::tensor_bytes(tensor);
    if (bytes > 0 && (tensor.data == nullptr || tensor.size_bytes < bytes)) {
      fail_invalid("input '", declared.name, "': ", dtype_name(tensor.dtype),
                   shape_str({tensor.dims, tensor.rank}), " needs ", bytes,
                   " bytes but the binding holds ", tensor.data ? tensor.size_bytes : 0);
    }
  }
}

ExecutionPlan& Context::plan_for(const rts_execute_args& args) {
  signature_.clear();
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    signature_.push_back(args.inputs[i].rank);
    signature_.insert(signature_.end(), args.inputs[i].dims,
                      args.inputs[i].dims + args.inputs[i].rank);
  }
  auto found = plans_.find(signature_);
  if (found != plans_.end()) return *found->second;

  std::vector<Dims> input_dims;
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    input_dims.emplace_back(args.inputs[i].dims, args.inputs[i].dims + args.inputs[i].rank);
  }
  if (plans_.size() >= kMaxCachedPlans) plans_.clear();
  std::unique_ptr<ExecutionPlan> plan = build_plan(engine_, input_dims, *pipelines_);
  plans_built_.fetch_add(1, std::memory_order_relaxed);
  engine_.plugin().log(
      RTS_LOG_DEBUG,
      str_cat("vulkan: engine '", engine_.graph().name, "': planned new input shapes (",
              plan->buffers.size(), " buffers, ", plan->commands.dispatches(), " dispatches, ",
              plan->commands.barriers(), " barriers, ", plan->in_place_updates,
              " in-place cache updates)"));
  return *plans_.insert_or_assign(signature_, std::move(plan)).first->second;
}

void Context::run_host_checks(const ExecutionPlan& plan, const rts_execute_args& args) const {
  for (const HostCheck& check : plan.checks) {
    const rts_tensor& tensor = args.inputs[check.input];
    if (check.kind == HostCheck::Kind::kPosition) {
      const int64_t pos = *static_cast<const int64_t*>(tensor.data);
      if (pos < 0 || pos + check.steps > check.limit) {
        fail_node(*check.node, "pos ", pos, " + ", check.steps, " steps exceeds cache length ",
                  check.limit, " (", shape_str(check.dims), ")");
      }
      continue;
    }
    const size_t count = static_cast<size_t>(element_count({tensor.dims, tensor.rank}));
    for (size_t i = 0; i < count; ++i) {
      const int64_t id = tensor.dtype == RTS_DTYPE_I32
                             ? static_cast<const int32_t*>(tensor.data)[i]
                             : static_cast<const int64_t*>(tensor.data)[i];
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
}

void Context::submit_and_wait(const ExecutionPlan& plan) {
  check_vk(vkResetCommandBuffer(commands_, 0), "vkResetCommandBuffer");
  auto begin = vk_struct<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check_vk(vkBeginCommandBuffer(commands_, &begin), "vkBeginCommandBuffer");
  plan.commands.record(commands_, *pipelines_, device_.pipeline_layout());
  check_vk(vkEndCommandBuffer(commands_), "vkEndCommandBuffer");
  check_vk(vkResetFences(device_.handle(), 1, &fence_), "vkResetFences");
  device_.submit(commands_, fence_);
  submits_.fetch_add(1, std::memory_order_relaxed);
  in_flight_ = true;
  device_.wait(fence_, kFenceSpin);
  in_flight_ = false;
}

void Context::stage_out(const ExecutionPlan& plan, const rts_execute_args& args) const {
  const std::byte* staging = plan.staging.mapped();
  for (const StagedTensor& staged : plan.staged_outputs) {
    convert_elements(args.outputs[staged.binding].data, staged.host_dtype,
                     staging + staged.staging_offset, staged.device_dtype, staged.elements,
                     dtype_size(staged.device_dtype));
  }
}

void Context::execute(const rts_execute_args& args) {
  check_inputs(args);
  ExecutionPlan& plan = plan_for(args);
  run_host_checks(plan, args);
  std::vector<const Dims*> output_dims;
  for (uint32_t id : engine_.output_values()) output_dims.push_back(&plan.dims[id]);
  output_allocations_.fetch_add(plugin_kit::bind_outputs(engine_, output_dims, args),
                                std::memory_order_relaxed);
  stage_in(plan, args);
  submit_and_wait(plan);
  stage_out(plan, args);

  executes_.fetch_add(1, std::memory_order_relaxed);
  dispatches_.fetch_add(plan.commands.dispatches(), std::memory_order_relaxed);
  barriers_.fetch_add(plan.commands.barriers(), std::memory_order_relaxed);
  staged_in_bytes_.fetch_add(plan.staged_in_bytes, std::memory_order_relaxed);
  staged_out_bytes_.fetch_add(plan.staged_out_bytes, std::memory_order_relaxed);
  in_place_updates_.fetch_add(plan.in_place_updates, std::memory_order_relaxed);
}

void Context::report_counters(const rts_counter_sink& sink) const {
  if (sink.counter == nullptr) return;
  auto report = [&sink](const char* name, uint64_t value) { sink.counter(sink.user, name, value); };
  auto load = [](const std::atomic<uint64_t>& value) {
    return value.load(std::memory_order_relaxed);
  };
  report("executes", load(executes_));
  report("submits", load(submits_));
  report("dispatches", load(dispatches_));
  report("barriers", load(barriers_));
  report("plans_built", load(plans_built_));
  report("staged_in_bytes", load(staged_in_bytes_));
  report("staged_out_bytes", load(staged_out_bytes_));
  report("in_place_updates", load(in_place_updates_));
  report("output_allocations", load(output_allocations_));
  report("pipelines_created", load(pipeline_counters_.created));
  report("pipeline_cache_hits", load(pipeline_counters_.cache_hits));
  report("pipeline_cache_misses", load(pipeline_counters_.cache_misses));
  report("pipeline_cache_rejected", load(pipeline_counters_.cache_rejected));
  // Plugin-wide: validation messages are not tied to one context.
  report("validation_errors", engine_.plugin().validation_errors());
  report("validation_enabled", engine_.plugin().validation_enabled() ? 1 : 0);
}

}  // namespace rtscope::vulkan
