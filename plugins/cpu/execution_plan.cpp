#include "execution_plan.hpp"

#include <algorithm>
#include <cstring>

#include "aligned_buffer.hpp"
#include "engine.hpp"
#include "kit_names.hpp"
#include "rtscope/kit/memory_planner.hpp"

namespace rtscope::cpu {
namespace {

// A plan starts with the generic, shape-agnostic kernel of every op under
// every setting. The specialized kernels replace them later, all at once,
// through install_choices() (specialization.cpp): eager before the plan's
// first run, lazy once the background tuning finished, none never.
KernelFn select_kernel(const OpSpec& spec) { return spec.run; }

// A fused group is one step of the memory plan where its last member ran:
// it reads every input of the group there and writes only its output. It
// may write that output over an input nothing reads afterwards: the
// residual of a linear (the product then accumulates onto it), x of a
// decode step's rope (the same bytes in either layout), or the cache.
void add_group_step(const Engine& engine, const FusedGroup& group, const ExecutionPlan& plan,
                    PlanStep& step) {
  step.reads = group.reads;
  step.writes = {group.output};
  switch (group.kind) {
    case FusedKind::kLinearResidual:
      // matmul's kernels always write their product over the output.
      if (std::strcmp(engine.nodes()[group.main].spec->op, "linear") == 0) {
        step.aliases.push_back({group.output, group.operand, AliasKind::kInPlaceIfDead});
      }
      break;
    case FusedKind::kRopeToHeads:
      if (plan.dims[group.x][1] == 1) {
        step.aliases.push_back({group.output, group.x, AliasKind::kInPlaceIfDead});
      }
      break;
    case FusedKind::kRopeIntoCache:
      step.aliases.push_back({group.output, group.cache, AliasKind::kInPlaceIfDead});
      break;
    case FusedKind::kLinearSiluMul:
    case FusedKind::kConvRelu:  // conv kernels write their output slice by slice
    case FusedKind::kConvResidual:
    case FusedKind::kConvResidualRelu:
      break;
  }
}

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
    if (plan.group_of[n] >= 0) {
      if (plan.runs_group(n)) add_group_step(engine, plan.groups[plan.group_of[n]], plan, step);
      continue;  // the group's other members read and write nothing
    }
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
    if (plan.placement[id].storage == Storage::kView ||
        plan.placement[id].storage == Storage::kUnused) {
      continue;
    }
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
                         const ContextSettings&, bool fuse) {
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

  plan.group_of.assign(nodes.size(), -1);
  if (fuse) {
    plan.groups = find_fused_groups(engine, plan.dims, plan.first_dynamic_node);
    for (size_t g = 0; g < plan.groups.size(); ++g) {
      const FusedGroup& group = plan.groups[g];
      for (uint32_t member : group.nodes) {
        plan.group_of[member] = static_cast<int32_t>(g);
        // Values between members are never stored.
        const uint32_t produced = nodes[member].outputs[0];
        if (produced != group.output) plan.placement[produced] = {Storage::kUnused};
      }
    }
  }

  for (size_t n = 0; n < nodes.size(); ++n) {
    const EngineNode& node = nodes[n];
    plan.kernels[n] = select_kernel(*node.spec);
    const uint32_t output = node.outputs[0];
    // A transpose that only moves size-1 dims keeps the bytes where they are.
    const bool transpose_view = fuse && n < plan.first_dynamic_node &&
                                std::strcmp(node.spec->op, "transpose") == 0 &&
                                transpose_keeps_layout(*node.desc, plan.dims[node.inputs[0]]);
    if ((node.spec->output_views_input || transpose_view) && output_index[output] < 0 &&
        plan.group_of[n] < 0) {
      const uint32_t input = node.inputs[0];
      const Placement& source = plan.placement[input];
      const uint32_t root = source.storage == Storage::kView ? source.index : input;
      plan.placement[output] = {Storage::kView, root};
      plan.skip_node[n] = 1;
    }
    if (!plan.runs_nothing(n)) ++plan.run_nodes;
    // A fused group runs its product's (or conv's) tuned kernel; its other members
    // (and a rope group's rope) are not tuned.
    const int32_t group = plan.group_of[n];
    const bool runs_own_kernel =
        group < 0 || (plan.groups[group].main == n && runs_main_kernel(plan.groups[group].kind));
    if (!plan.skip_node[n] && runs_own_kernel && node.spec->tune_space != nullptr &&
        n < plan.first_dynamic_node) {
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

std::string group_profile_label(const Engine& engine, const ExecutionPlan& plan, size_t group) {
  const FusedGroup& g = plan.groups[group];
  std::string kernel;
  if (runs_main_kernel(g.kind)) {
    kernel = engine.nodes()[g.main].spec->kernel_name;
    if (const KernelTuning* tuning = plan.tuning_for(g.main); tuning != nullptr) {
      kernel = plan.variant[g.main] != nullptr ? plan.variant[g.main] : "?";
      if (tuning->grain > 0) kernel += str_cat(" grain ", tuning->grain);
    }
    kernel += " + ";
  }
  kernel += group_kernel_suffix(g.kind);
  return str_cat(group_name(engine, g), " [", kernel, "] ", shape_str(plan.dims[g.output]));
}

}  // namespace rtscope::cpu
