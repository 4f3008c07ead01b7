#include "capture.hpp"

#include <algorithm>
#include <cstring>

#include "capture_chain.hpp"
#include "engine.hpp"
#include "kit_names.hpp"
#include "plugin.hpp"
#include "rtscope/kit/output_binding.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

// A node without a lowering: its kernel with every argument resolved.
struct KernelStep {
  KernelFn fn;
  const NodeDesc* node;
  ThreadPool* pool;
  const KernelTuning* tuning;
  std::vector<TensorRef> refs;  // inputs, then outputs
  size_t n_inputs;
  bool has_epilogue = false;  // a fused group's product
  LinearEpilogue epilogue;
};

void run_kernel_step(const KernelStep& step) {
  const std::span<const TensorRef> refs(step.refs);
  step.fn(KernelArgs{*step.node, refs.first(step.n_inputs), refs.subspan(step.n_inputs), *step.pool,
                     step.tuning, step.has_epilogue ? &step.epilogue : nullptr});
}

struct ConvertStep {
  const void* source;
  void* destination;
  int64_t count;
  ThreadPool* pool;
};

void half_to_float_step(const ConvertStep& step) {
  const auto* source = static_cast<const uint16_t*>(step.source);
  auto* destination = static_cast<float*>(step.destination);
  step.pool->parallel_for(step.count, kMinElementsPerTask, [&](int64_t begin, int64_t end) {
    half_to_float(source + begin, destination + begin, end - begin);
  });
}

void float_to_half_step(const ConvertStep& step) {
  const auto* source = static_cast<const float*>(step.source);
  auto* destination = static_cast<uint16_t*>(step.destination);
  step.pool->parallel_for(step.count, kMinElementsPerTask, [&](int64_t begin, int64_t end) {
    float_to_half(source + begin, destination + begin, end - begin);
  });
}

size_t value_bytes(const Dims& dims, rts_dtype dtype) {
  return static_cast<size_t>(element_count(dims)) * dtype_size(dtype);
}

}  // namespace

void* Capture::new_buffer(size_t bytes) {
  buffers_.emplace_back(std::max<size_t>(bytes, 1));
  return buffers_.back().data();
}

Capture::Capture(const Engine& engine, const ExecutionPlan& plan, const rts_execute_args& args,
                 const Profiling& profiling)
    : engine_(engine), dims_(plan.dims), tunings_(plan.tuning), profiling_(profiling) {
  const std::vector<EngineValue>& values = engine_.values();
  storage_.assign(values.size(), nullptr);
  buffers_.reserve(args.n_inputs + 1 + args.n_outputs);

  std::vector<uint8_t> aliased_input(args.n_inputs, 0);
  for (const rts_alias& alias : engine_.aliases()) aliased_input[alias.input] = 1;
  std::vector<void*> input_storage(args.n_inputs);
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& tensor = args.inputs[i];
    InputBinding binding{};
    binding.dtype = tensor.dtype;
    binding.rank = tensor.rank;
    std::copy(tensor.dims, tensor.dims + tensor.rank, binding.dims);
    binding.bytes = kit::tensor_bytes(tensor);
    if (aliased_input[i]) {
      binding.address = tensor.data;
      input_storage[i] = tensor.data;
    } else {
      binding.copy = new_buffer(binding.bytes);
      input_storage[i] = binding.copy;
    }
    inputs_.push_back(binding);
  }
  auto* arena = static_cast<std::byte*>(new_buffer(plan.arena_bytes));

  for (uint32_t id = 0; id < values.size(); ++id) {
    const Placement& placement = plan.placement[id];
    switch (placement.storage) {
      case Storage::kInput:
        storage_[id] = input_storage[placement.index];
        break;
      case Storage::kConstant:
        storage_[id] = const_cast<void*>(engine_.constant_data(placement.index));
        break;
      case Storage::kArena:
        storage_[id] = arena + placement.offset;
        break;
      case Storage::kUnused:
      case Storage::kView:
      case Storage::kOutput:
        break;  // below (never stored: stays null)
    }
  }

  // An output goes into the capture's own buffer and is copied out after
  // every replay, except a kv_cache_update output bound in place onto its
  // (directly bound) cache input: that one is written where it lives.
  std::vector<uint8_t> in_place(args.n_outputs, 0);
  for (const rts_alias& alias : engine_.aliases()) {
    const void* output_data = args.outputs[alias.output].data;
    const bool bound_in_place =
        output_data != nullptr && output_data == args.inputs[alias.input].data;
    aliased_outputs_.push_back({alias.output, alias.input, bound_in_place});
    const uint32_t id = engine_.output_values()[alias.output];
    const Placement& placement = plan.placement[id];
    if (!bound_in_place || placement.storage != Storage::kOutput ||
        placement.index != alias.output) {
      continue;
    }
    const EngineNode& producer = engine_.nodes()[values[id].producer];
    if (std::strcmp(producer.spec->op, "kv_cache_update") != 0) continue;
    const uint32_t cache = producer.inputs[0];
    const Placement& cache_placement = plan.placement[cache];
    const uint32_t cache_root =
        cache_placement.storage == Storage::kView ? cache_placement.index : cache;
    if (storage_[cache_root] == output_data) in_place[alias.output] = 1;
  }
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const uint32_t id = engine_.output_values()[o];
    const Placement& placement = plan.placement[id];
    if (placement.storage != Storage::kOutput || placement.index != o) continue;
    if (in_place[o]) {
      storage_[id] = args.outputs[o].data;
      ++in_place_outputs_;
    } else {
      storage_[id] = new_buffer(value_bytes(dims_[id], values[id].dtype));
    }
  }
  for (uint32_t id = 0; id < values.size(); ++id) {
    if (plan.placement[id].storage == Storage::kView) {
      storage_[id] = storage_[plan.placement[id].index];
    }
  }

  conversion_scratch_.reserve(std::max<size_t>(plan.conversion_bytes, 1));
  // A profile times every node on its own: no chains there.
  const std::vector<int> readers =
      profiling_.profile == nullptr ? count_readers(engine_) : std::vector<int>{};
  for (size_t n = 0; n < engine_.nodes().size(); ++n) {
    if (plan.runs_nothing(n)) continue;
    if (plan.runs_group(n)) {
      record_group(plan.groups[plan.group_of[n]], plan);
    } else if (const size_t chained =
                   readers.empty()
                       ? 0
                       : record_elementwise_chain(engine_, plan, storage_, readers, n, steps_)) {
      for (size_t member = n; member < n + chained; ++member) count_node(member, plan);
      n += chained - 1;
    } else {
      record_node(n, plan);
    }
    if (profiling_.profile != nullptr) step_rows_.resize(steps_.size(), profiling_.node_rows[n]);
  }
  step_ns_.resize(step_rows_.size());

  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const uint32_t id = engine_.output_values()[o];
    output_dims_.push_back(&dims_[id]);
    const Placement& placement = plan.placement[id];
    const bool written_in_place =
        placement.storage == Storage::kOutput && placement.index == o && in_place[o];
    if (written_in_place) continue;
    output_copies_.push_back({o, storage_[id], value_bytes(dims_[id], values[id].dtype)});
  }
}

void Capture::count_node(size_t node_index, const ExecutionPlan& plan) {
  ++nodes_;
  if (plan.tunable[node_index]) ++(plan.specialized ? specialized_nodes_ : generic_nodes_);
}

void Capture::record_node(size_t node_index, const ExecutionPlan& plan) {
  const EngineNode& node = engine_.nodes()[node_index];
  const std::vector<EngineValue>& values = engine_.values();
  ThreadPool& pool = engine_.plugin().pool();
  count_node(node_index, plan);

  std::vector<TensorRef> refs;
  for (uint32_t id : node.inputs) refs.push_back({values[id].dtype, dims_[id], storage_[id]});
  for (uint32_t id : node.outputs) refs.push_back({values[id].dtype, dims_[id], storage_[id]});
  const size_t n_inputs = node.inputs.size();

  // f16 nodes with f32 kernels: conversions become steps of their own
  // around the kernel, into scratch shared by all nodes (steps run in
  // order, so each node may reuse it from the start).
  std::vector<ConvertStep> converts_out;
  if (node.computes_f16_in_f32()) {
    auto* scratch = static_cast<std::byte*>(conversion_scratch_.data());
    size_t cursor = 0;
    for (size_t i = 0; i < n_inputs; ++i) {
      TensorRef& ref = refs[i];
      if (op_table().input_kind(*node.spec, i) != InputKind::kFloat || ref.dtype != RTS_DTYPE_F16)
        continue;
      const EngineValue& value = values[node.inputs[i]];
      if (value.role == ValueRole::kConstant) {
        if (const float* converted = engine_.constant_as_f32(value.role_index)) {
          ref.dtype = RTS_DTYPE_F32;
          ref.data = const_cast<float*>(converted);
          continue;
        }
      }
      void* destination = scratch + cursor;
      cursor += conversion_slot_bytes(ref.elements());
      steps_.add<half_to_float_step>(ConvertStep{ref.data, destination, ref.elements(), &pool});
      ref.dtype = RTS_DTYPE_F32;
      ref.data = destination;
    }
    for (size_t o = n_inputs; o < refs.size(); ++o) {
      TensorRef& ref = refs[o];
      if (ref.dtype != RTS_DTYPE_F16) continue;
      void* f32 = scratch + cursor;
      cursor += conversion_slot_bytes(ref.elements());
      converts_out.push_back({f32, ref.data, ref.elements(), &pool});
      ref.dtype = RTS_DTYPE_F32;
      ref.data = f32;
    }
    if (cursor > conversion_scratch_.capacity()) {
      fail(RTS_ERROR_INTERNAL, "cpu: capture of ", node.desc->label(), " needs ", cursor,
           " bytes of conversion scratch, the plan sized ", conversion_scratch_.capacity());
    }
  }

  const KernelTuning* tuning = plan.tuning_for(node_index) ? &tunings_[node_index] : nullptr;
  const std::span<const TensorRef> all(refs);
  const KernelArgs args{*node.desc, all.first(n_inputs), all.subspan(n_inputs), pool, tuning};
  const KernelFn kernel = plan.kernels[node_index];
  const bool lowered = node.spec->lower != nullptr && node.spec->lower(args, kernel, steps_);
  if (!lowered) {
    steps_.add<run_kernel_step>(
        KernelStep{kernel, node.desc, &pool, tuning, std::move(refs), n_inputs, false, {}});
  }
  for (const ConvertStep& convert : converts_out) steps_.add<float_to_half_step>(convert);
}

void Capture::record_group(const FusedGroup& group, const ExecutionPlan& plan) {
  const std::vector<EngineValue>& values = engine_.values();
  ThreadPool& pool = engine_.plugin().pool();
  auto ref = [&](uint32_t id) { return TensorRef{values[id].dtype, dims_[id], storage_[id]}; };
  ++nodes_;
  if (group.kind == FusedKind::kRopeToHeads || group.kind == FusedKind::kRopeIntoCache) {
    const TensorRef cache =
        group.kind == FusedKind::kRopeIntoCache ? ref(group.cache) : TensorRef{};
    const EngineNode& error_node = engine_.nodes()[group.nodes.back()];
    steps_.add<run_fused_rope>(
        fused_rope_args(group, ref(group.x), ref(group.pos),
                        group.kind == FusedKind::kRopeIntoCache ? &cache : nullptr,
                        ref(group.output), pool, *error_node.desc));
    rope_tables_.push_back(group.table);  // the steps point into it
    return;
  }
  const EngineNode& product = engine_.nodes()[group.main];
  if (plan.tunable[group.main]) ++(plan.specialized ? specialized_nodes_ : generic_nodes_);
  std::vector<TensorRef> refs;
  for (uint32_t id : product.inputs) refs.push_back(ref(id));
  refs.push_back(ref(group.output));
  const size_t n_inputs = product.inputs.size();
  const KernelTuning* tuning = plan.tuning_for(group.main) ? &tunings_[group.main] : nullptr;
  steps_.add<run_kernel_step>(KernelStep{plan.kernels[group.main], product.desc, &pool, tuning,
                                         std::move(refs), n_inputs, true,
                                         linear_epilogue(group, ref(group.operand))});
}

bool Capture::matches(const rts_execute_args& args) const {
  if (args.n_inputs != inputs_.size() || args.n_outputs != output_dims_.size()) return false;
  if ((args.n_inputs > 0 && args.inputs == nullptr) ||
      (args.n_outputs > 0 && args.outputs == nullptr)) {
    return false;
  }
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& tensor = args.inputs[i];
    const InputBinding& recorded = inputs_[i];
    if (tensor.dtype != recorded.dtype || tensor.rank != recorded.rank ||
        tensor.residency != RTS_RESIDENCY_HOST) {
      return false;
    }
    if (!std::equal(tensor.dims, tensor.dims + tensor.rank, recorded.dims)) return false;
    if (recorded.bytes > 0 && (tensor.data == nullptr || tensor.size_bytes < recorded.bytes)) {
      return false;
    }
    if (recorded.copy == nullptr && tensor.data != recorded.address) return false;
  }
  for (const AliasedOutput& alias : aliased_outputs_) {
    const void* output_data = args.outputs[alias.output].data;
    const bool in_place = output_data != nullptr && output_data == args.inputs[alias.input].data;
    if (in_place != alias.in_place) return false;
  }
  return true;
}

uint64_t Capture::replay(const rts_execute_args& args) {
  for (uint32_t i = 0; i < inputs_.size(); ++i) {
    const InputBinding& input = inputs_[i];
    if (input.copy != nullptr && input.bytes > 0) {
      std::memcpy(input.copy, args.inputs[i].data, input.bytes);
    }
  }
  const uint64_t allocated = kit::bind_outputs(engine_, output_dims_, args);
  if (profiling_.profile == nullptr) {
    steps_.run();
  } else {
    steps_.run_timed(&StepProfile::now_ns, step_ns_.data());
    for (size_t i = 0; i < step_ns_.size(); ++i) {
      profiling_.profile->add_row(step_rows_[i], step_ns_[i]);
    }
  }
  for (const OutputCopy& copy : output_copies_) {
    void* destination = args.outputs[copy.output].data;
    if (copy.bytes > 0 && destination != copy.source) {
      std::memmove(destination, copy.source, copy.bytes);
    }
  }
  return allocated;
}

}  // namespace rtscope::cpu
