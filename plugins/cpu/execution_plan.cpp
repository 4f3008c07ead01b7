#include "execution_plan.hpp"

#include <algorithm>

#include "aligned_buffer.hpp"
#include "engine.hpp"
#include "kit_names.hpp"
#include "memory_planner.hpp"

namespace rtscope::cpu {
namespace {

// A plan starts with the generic, shape-agnostic kernel of every op under
// every setting. The specialized kernels replace them later, all at once,
// through install_choices() (specialization.cpp): eager before the plan's
// first run, lazy once the background tuning finished, none never.
KernelFn select_kernel(const OpSpec& spec) { return spec.run; }

// Every engine-internal value gets arena storage from the memory planner.
// Inputs, constants and output bindings are outside the arena; a view
// shares its source's storage; an internal kv_cache_update takes over its
// cache's storage when the cache is dead after it.
void place_values(const Engine& engine, const std::vector<int>& output_index, ExecutionPlan& plan) {
  const std::vector<EngineValue>& values = engine.values();
  const std::vector<EngineNode>& nodes = engine.nodes();
  std::vector<PlanValue> sizes(values.size());
  for (uint32_t id = 0; id < values.size(); ++id) {
    if (values[id].role != ValueRole::kIntermediate) {
      sizes[id].external = true;
    } else if (output_index[id] >= 0) {
      sizes[id].external = true;
      plan.placement[id] = {Storage::kOutput, static_cast<uint32_t>(output_index[id])};
    } else {
      sizes[id].bytes =
          static_cast<size_t>(element_count(plan.dims[id])) * dtype_size(values[id].dtype);
    }
  }
  std::vector<PlanStep> steps(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    const EngineNode& node = nodes[n];
    PlanStep& step = steps[n];
    step.reads = node.inputs;
    step.writes = node.outputs;
    const uint32_t output = node.outputs[0];
    if (plan.skip_node[n]) {
      step.aliases.push_back({output, node.inputs[0], AliasKind::kShared});
    } else if (node.spec->output_updates_input && output_index[output] < 0) {
      step.aliases.push_back({output, node.inputs[0], AliasKind::kInPlaceIfDead});
    }
  }
  // Dynamic engine outputs live in the arena until they are copied into
  // their binding after the last node: a final step reads them.
  PlanStep copy_out;
  for (uint32_t id : engine.output_values()) {
    if (plan.dynamic_value[id]) copy_out.reads.push_back(id);
  }
  if (!copy_out.reads.empty()) steps.push_back(std::move(copy_out));
  const MemoryPlan memory = plan_memory(sizes, steps, AlignedBuffer::kAlignment);
  for (uint32_t id = 0; id < values.size(); ++id) {
    if (memory.offset[id] == MemoryPlan::kNoOffset) continue;
    if (plan.placement[id].storage == Storage::kView) continue;
    plan.placement[id] = {Storage::kArena, 0, memory.offset[id]};
  }
  plan.arena_bytes = memory.peak_bytes;
  plan.naive_bytes = memory.naive_bytes;
}

}  // namespace

size_t conversion_slot_bytes(int64_t elements) {
  const size_t bytes = static_cast<size_t>(elements) * sizeof(float);
  return (bytes + AlignedBuffer::kAlignment - 1) / AlignedBuffer::kAlignment *
         AlignedBuffer::kAlignment;
}

ExecutionPlan build_plan(const Engine& engine, std::span<const Dims> input_dims,
                         const ContextSettings&) {
  const std::vector<EngineValue>& values = engine.values();
  const std::vector<EngineNode>& nodes = engine.nodes();
  ExecutionPlan plan;
  plan.dims = op_table().infer_dims(engine, input_dims);
  plan.placement.resize(values.size());
  plan.skip_node.assign(nodes.size(), 0);
  plan.kernels.resize(nodes.size());
  plan.tuning.resize(nodes.size());
  plan.variant.assign(nodes.size(), nullptr);
  plan.tunable.assign(nodes.size(), 0);

  for (size_t i = 0; i < input_dims.size(); ++i) {
    plan.placement[engine.input_values()[i]] = {Storage::kInput, static_cast<uint32_t>(i)};
  }
  for (uint32_t id = 0; id < values.size(); ++id) {
    if (values[id].role != ValueRole::kConstant) continue;
    plan.placement[id] = {Storage::kConstant, values[id].role_index};
  }
  plan.first_dynamic_node = engine.first_data_dependent_node();
  plan.dynamic_value.assign(values.size(), 0);
  for (uint32_t id = 0; id < values.size(); ++id) {
    const int producer = values[id].producer;
    plan.dynamic_value[id] =
        producer >= 0 && static_cast<size_t>(producer) >= plan.first_dynamic_node ? 1 : 0;
  }
  // Node outputs that are engine outputs go straight into the binding,
  // except dynamic ones: their binding is sized only after the run.
  std::vector<int> output_index(values.size(), -1);
  for (uint32_t output = 0; output < engine.output_values().size(); ++output) {
    const uint32_t id = engine.output_values()[output];
    if (values[id].role == ValueRole::kIntermediate && output_index[id] < 0 &&
        !plan.dynamic_value[id]) {
      output_index[id] = static_cast<int>(output);
    }
  }

  for (size_t n = 0; n < nodes.size(); ++n) {
    const EngineNode& node = nodes[n];
    plan.kernels[n] = select_kernel(*node.spec);
    const uint32_t output = node.outputs[0];
    if (node.spec->output_views_input && output_index[output] < 0) {
      const uint32_t input = node.inputs[0];
      const Placement& source = plan.placement[input];
      const uint32_t root = source.storage == Storage::kView ? source.index : input;
      plan.placement[output] = {Storage::kView, root};
      plan.skip_node[n] = 1;
    }
    if (!plan.skip_node[n]) ++plan.run_nodes;
    if (!plan.skip_node[n] && node.spec->tune_space != nullptr && n < plan.first_dynamic_node) {
      plan.tunable[n] = 1;
      ++plan.tunable_nodes;
    }
  }

  plan.planned_bytes.resize(values.size());
  for (uint32_t id = 0; id < values.size(); ++id) {
    plan.planned_bytes[id] =
        static_cast<size_t>(element_count(plan.dims[id])) * dtype_size(values[id].dtype);
  }
  place_values(engine, output_index, plan);

  // f16 nodes with f32 kernels convert into scratch sized for the largest.
  for (const EngineNode& node : nodes) {
    if (!node.computes_f16_in_f32()) continue;
    size_t bytes = 0;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const EngineValue& value = values[node.inputs[i]];
      if (op_table().input_kind(*node.spec, i) != InputKind::kFloat) continue;
      if (value.role == ValueRole::kConstant && engine.constant_as_f32(value.role_index)) {
        continue;
      }
      bytes += conversion_slot_bytes(element_count(plan.dims[node.inputs[i]]));
    }
    for (uint32_t id : node.outputs) {
      if (values[id].dtype == RTS_DTYPE_F16) {
        bytes += conversion_slot_bytes(element_count(plan.dims[id]));
      }
    }
    plan.conversion_bytes = std::max(plan.conversion_bytes, bytes);
  }
  return plan;
}

}  // namespace rtscope::cpu

namespace rtscope::cpu {

std::string node_profile_label(const Engine& engine, const ExecutionPlan& plan, size_t node) {
  const EngineNode& n = engine.nodes()[node];
  std::string kernel = n.spec->kernel_name;
  if (const KernelTuning* tuning = plan.tuning_for(node); tuning != nullptr) {
    kernel = plan.variant[node] != nullptr ? plan.variant[node] : "?";
    if (tuning->grain > 0) kernel += str_cat(" grain ", tuning->grain);
  }
  const std::string shape = n.outputs.empty() ? "" : shape_str(plan.dims[n.outputs[0]]);
  return str_cat(n.desc->name, " [", kernel, "] ", shape);
}

}  // namespace rtscope::cpu
