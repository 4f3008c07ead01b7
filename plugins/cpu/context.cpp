#include "context.hpp"

#include <algorithm>
#include <cstring>

#include "engine.hpp"
#include "kit_names.hpp"
#include "plugin.hpp"
#include "rtscope/kit/bindings.hpp"
#include "rtscope/kit/output_binding.hpp"
#include "rtscope/kit/trace_span.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {

namespace {

bool ranges_overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  if (a == nullptr || b == nullptr || a_bytes == 0 || b_bytes == 0) return false;
  const auto* a_begin = static_cast<const std::byte*>(a);
  const auto* b_begin = static_cast<const std::byte*>(b);
  return a_begin < b_begin + b_bytes && b_begin < a_begin + a_bytes;
}

// Counters have one writer (executes of a context are externally
// synchronized) and readers on any thread: a relaxed load and store keeps
// every read untorn without a locked read-modify-write per execute.
void bump(std::atomic<uint64_t>& counter, uint64_t amount = 1) {
  if (amount != 0) {
    counter.store(counter.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
}

void copy_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
}

}  // namespace

Context::Context(const Engine& engine, const rts_runtime_settings* settings)
    : engine_(engine),
      settings_(kit::read_settings(settings)),
      fuse_(fusion_requested()),
      specializer_(engine, settings_) {
  refs_.resize(engine_.values().size());
  output_stand_ins_.resize(engine_.output_values().size());
  output_uses_stand_in_.assign(engine_.output_values().size(), 0);
  runtime_dims_.resize(engine_.values().size());
  if (StepProfile::requested("RTSCOPE_CPU_PROFILE")) profile_ = std::make_unique<StepProfile>();
  if (settings_.graph_capture == RTS_GRAPH_CAPTURE_WHOLE_GRAPH &&
      engine_.has_data_dependent_nodes()) {
    const EngineNode& node = engine_.nodes()[engine_.first_data_dependent_node()];
    capture_refusal_ = str_cat(node.desc->label(),
                               " sizes its output from the input values, so shapes change "
                               "between executes and a recorded replay cannot hold them");
    engine_.plugin().log(
        RTS_LOG_INFO,
        str_cat("cpu: engine '", engine_.graph().name,
                "': graph_capture whole_graph runs eagerly instead: ", capture_refusal_));
  }

  // With static shapes the plan is known now: eager specializes it before
  // the first execute, lazy starts tuning it in the background already.
  if (settings_.kernel_specialization == RTS_KERNEL_SPECIALIZATION_NONE) return;
  std::vector<Dims> input_dims;
  std::vector<int64_t>& key = plans_.key();
  for (const ValueDesc& input : engine_.graph().inputs) {
    if (!input.is_static()) return;
    input_dims.push_back(input.dims);
    key.push_back(static_cast<int64_t>(input.dims.size()));
    key.insert(key.end(), input.dims.begin(), input.dims.end());
  }
  add_plan(std::move(input_dims));
}

Context::~Context() {
  if (profile_ == nullptr) return;
  if (const std::string table = profile_->table(64); !table.empty()) {
    engine_.plugin().log(RTS_LOG_INFO, str_cat("cpu: engine '", engine_.graph().name,
                                               "' host profile (RTSCOPE_CPU_PROFILE):", table));
  }
}

const Context::PlanRows& Context::plan_rows(const ExecutionPlan& plan,
                                            const rts_execute_args& args) {
  const auto [it, inserted] = plan_rows_.try_emplace({plan.id, plan.specialized});
  PlanRows& rows = it->second;
  if (!inserted) return rows;
  std::string group = "inputs";
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    group += ' ';
    group += shape_str(std::span(args.inputs[i].dims, args.inputs[i].rank));
  }
  if (settings_.graph_capture == RTS_GRAPH_CAPTURE_WHOLE_GRAPH && capture_refusal_.empty()) {
    group += " replay";
  } else {
    group += " eager";
  }
  rows.group = profile_->group(group);
  // A fused group has one row, at the member it runs in place of.
  for (size_t n = 0; n < engine_.nodes().size(); ++n) {
    std::string label = plan.runs_group(n) ? group_profile_label(engine_, plan, plan.group_of[n])
                                           : node_profile_label(engine_, plan, n);
    rows.rows.push_back(profile_->row(rows.group, label));
  }
  return rows;
}

ExecutionPlan& Context::plan_for(const rts_execute_args& args) {
  const std::vector<int64_t>& key = plans_.key_input_shapes(args);
  // Steps of one shape in a row (decode steps) find their plan without a
  // map lookup.
  if (last_plan_ != nullptr && key == last_key_) return *last_plan_;
  ExecutionPlan* plan = plans_.find();
  if (plan == nullptr) {
    std::vector<Dims> input_dims;
    for (uint32_t i = 0; i < args.n_inputs; ++i) {
      input_dims.emplace_back(args.inputs[i].dims, args.inputs[i].dims + args.inputs[i].rank);
    }
    plan = &add_plan(std::move(input_dims));
  }
  last_plan_ = plan;
  last_key_ = key;
  return *plan;
}

// Builds the plan of the current key, specializes it per the setting (eager:
// now, before it runs) and caches it.
ExecutionPlan& Context::add_plan(std::vector<Dims> input_dims) {
  auto plan = std::make_unique<ExecutionPlan>(build_plan(engine_, input_dims, settings_, fuse_));
  plan->id = plans_built_.fetch_add(1, std::memory_order_relaxed) + 1;
  specializer_.on_new_plan(*plan, plans_.key());
  last_plan_ = nullptr;  // inserting may drop every cached plan
  engine_.plugin().log(
      RTS_LOG_DEBUG,
      str_cat("cpu: engine '", engine_.graph().name, "': planned new input shapes (",
              plan->arena_bytes, " arena bytes, ", plan->naive_bytes, " without reuse)"));
  return plans_.insert(std::move(plan));
}

int Context::resolve_storage(const ExecutionPlan& plan, const rts_execute_args& args) {
  int in_place_outputs = 0;
  const std::vector<EngineValue>& values = engine_.values();
  for (uint32_t id = 0; id < values.size(); ++id) {
    TensorRef& ref = refs_[id];
    ref.dtype = values[id].dtype;
    ref.dims = plan.dims[id];
    const Placement& placement = plan.placement[id];
    switch (placement.storage) {
      case Storage::kInput:
        ref.data = args.inputs[placement.index].data;
        break;
      case Storage::kConstant:
        ref.data = const_cast<void*>(engine_.constant_data(placement.index));
        break;
      case Storage::kArena:
        ref.data = static_cast<std::byte*>(arena_.data()) + placement.offset;
        break;
      case Storage::kUnused:
        ref.data = nullptr;
        break;
      case Storage::kView:
      case Storage::kOutput:
        break;  // below, once inputs are known
    }
  }
  // Outputs go straight into their binding unless it overlaps an input: then
  // only an in-place kv_cache_update may write there during the run.
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    output_uses_stand_in_[o] = 0;
    const uint32_t id = engine_.output_values()[o];
    const Placement& placement = plan.placement[id];
    if (placement.storage != Storage::kOutput || placement.index != o) continue;
    const rts_tensor& binding = args.outputs[o];
    const size_t bytes = kit::tensor_bytes(binding);
    bool overlaps_input = false;
    for (uint32_t i = 0; i < args.n_inputs; ++i) {
      overlaps_input = overlaps_input || ranges_overlap(binding.data, bytes, args.inputs[i].data,
                                                        kit::tensor_bytes(args.inputs[i]));
    }
    refs_[id].data = binding.data;
    if (!overlaps_input) continue;
    const EngineNode& producer = engine_.nodes()[values[id].producer];
    if (std::strcmp(producer.spec->op, "kv_cache_update") == 0) {
      const uint32_t cache = producer.inputs[0];
      const Placement& cache_placement = plan.placement[cache];
      const uint32_t cache_root =
          cache_placement.storage == Storage::kView ? cache_placement.index : cache;
      if (refs_[cache_root].data == binding.data) {
        ++in_place_outputs;
        continue;
      }
    }
    output_stand_ins_[o].reserve(std::max<size_t>(bytes, 1));
    refs_[id].data = output_stand_ins_[o].data();
    output_uses_stand_in_[o] = 1;
  }
  for (uint32_t id = 0; id < values.size(); ++id) {
    if (plan.placement[id].storage == Storage::kView) {
      refs_[id].data = refs_[plan.placement[id].index].data;
    }
  }
  return in_place_outputs;
}

void Context::resolve_dynamic_shapes(size_t node_index, const ExecutionPlan& plan) {
  const EngineNode& node = engine_.nodes()[node_index];
  dynamic_outputs_.resize(node.outputs.size());
  if (is_data_dependent(*node.spec, *node.desc)) {
    node_inputs_.clear();
    for (uint32_t id : node.inputs) node_inputs_.push_back(refs_[id]);
    node.spec->infer_from_data(*node.desc, node_inputs_, dynamic_outputs_);
  } else {
    dynamic_inputs_.clear();
    std::vector<rts_dtype> dtypes;
    for (uint32_t id : node.inputs) {
      dynamic_inputs_.push_back(plan.dynamic_value[id] ? &runtime_dims_[id] : &plan.dims[id]);
      dtypes.push_back(refs_[id].dtype);
    }
    op_table().infer_output_dims(*node.spec, *node.desc, dtypes, dynamic_inputs_, dynamic_outputs_);
  }
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    const uint32_t id = node.outputs[o];
    const Placement& placement = plan.placement[id];
    const uint32_t root = placement.storage == Storage::kView ? placement.index : id;
    const size_t bytes =
        static_cast<size_t>(element_count(dynamic_outputs_[o])) * dtype_size(refs_[id].dtype);
    if (bytes > plan.planned_bytes[root]) {
      fail_node(*node.desc, "output '", engine_.values()[id].name, "' is ",
                shape_str(dynamic_outputs_[o]), " at run time, larger than the ",
                shape_str(plan.dims[id]),
                " planned for it; after a data-dependent op a shape must not grow with the "
                "selected count (move this node into a separate engine)");
    }
    runtime_dims_[id].swap(dynamic_outputs_[o]);
    refs_[id].dims = runtime_dims_[id];
  }
  bump(dynamic_shape_resolutions_);
}

void Context::run_group(size_t node_index, const ExecutionPlan& plan) {
  const FusedGroup& group = plan.groups[plan.group_of[node_index]];
  const TensorRef& output = refs_[group.output];
  ThreadPool& pool = engine_.plugin().pool();
  if (group.kind == FusedKind::kRopeToHeads || group.kind == FusedKind::kRopeIntoCache) {
    const EngineNode& error_node = engine_.nodes()[group.nodes.back()];
    run_fused_rope(
        fused_rope_args(group, refs_[group.x], refs_[group.pos],
                        group.kind == FusedKind::kRopeIntoCache ? &refs_[group.cache] : nullptr,
                        output, pool, *error_node.desc));
    return;
  }
  const EngineNode& product = engine_.nodes()[group.main];
  node_inputs_.clear();
  node_outputs_.clear();
  for (uint32_t id : product.inputs) node_inputs_.push_back(refs_[id]);
  node_outputs_.push_back(output);
  const LinearEpilogue epilogue = linear_epilogue(group, refs_[group.operand]);
  plan.kernels[group.main](KernelArgs{*product.desc, node_inputs_, node_outputs_, pool,
                                      plan.tuning_for(group.main), &epilogue});
}

void Context::run_node(size_t node_index, const ExecutionPlan& plan) {
  const EngineNode& node = engine_.nodes()[node_index];
  node_inputs_.clear();
  node_outputs_.clear();
  for (uint32_t id : node.inputs) node_inputs_.push_back(refs_[id]);
  for (uint32_t id : node.outputs) node_outputs_.push_back(refs_[id]);
  if (node.computes_f16_in_f32()) {
    run_with_f32_conversion(node_index, plan);
  } else {
    plan.kernels[node_index](KernelArgs{*node.desc, node_inputs_, node_outputs_,
                                        engine_.plugin().pool(), plan.tuning_for(node_index)});
  }
}

// Runs an f32 kernel on an f16 node: converts its float inputs into scratch
// (constants were converted once by the engine), runs, converts back.
void Context::run_with_f32_conversion(size_t node_index, const ExecutionPlan& plan) {
  const EngineNode& node = engine_.nodes()[node_index];
  ThreadPool& pool = engine_.plugin().pool();
  auto* cursor = static_cast<std::byte*>(conversion_scratch_.data());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    TensorRef& ref = node_inputs_[i];
    if (op_table().input_kind(*node.spec, i) != InputKind::kFloat || ref.dtype != RTS_DTYPE_F16)
      continue;
    const EngineValue& value = engine_.values()[node.inputs[i]];
    if (value.role == ValueRole::kConstant) {
      if (const float* converted = engine_.constant_as_f32(value.role_index)) {
        ref.dtype = RTS_DTYPE_F32;
        ref.data = const_cast<float*>(converted);
        continue;
      }
    }
    const int64_t count = ref.elements();
    auto* destination = reinterpret_cast<float*>(cursor);
    const auto* source = ref.as<const uint16_t>();
    pool.parallel_for(count, kMinElementsPerTask, [&](int64_t begin, int64_t end) {
      half_to_float(source + begin, destination + begin, end - begin);
    });
    cursor += conversion_slot_bytes(count);
    ref.dtype = RTS_DTYPE_F32;
    ref.data = destination;
  }
  for (TensorRef& ref : node_outputs_) {
    if (ref.dtype != RTS_DTYPE_F16) continue;
    ref.dtype = RTS_DTYPE_F32;
    ref.data = cursor;
    cursor += conversion_slot_bytes(ref.elements());
  }
  plan.kernels[node_index](
      KernelArgs{*node.desc, node_inputs_, node_outputs_, pool, plan.tuning_for(node_index)});
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    const TensorRef& final_ref = refs_[node.outputs[o]];
    if (final_ref.dtype != RTS_DTYPE_F16) continue;
    const auto* source = node_outputs_[o].as<const float>();
    auto* destination = final_ref.as<uint16_t>();
    pool.parallel_for(final_ref.elements(), kMinElementsPerTask, [&](int64_t begin, int64_t end) {
      float_to_half(source + begin, destination + begin, end - begin);
    });
  }
}

void Context::copy_remaining_outputs(const ExecutionPlan& plan, const rts_execute_args& args) {
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const uint32_t id = engine_.output_values()[o];
    const Placement& placement = plan.placement[id];
    const bool written_directly =
        placement.storage == Storage::kOutput && placement.index == o && !output_uses_stand_in_[o];
    if (written_directly) continue;
    // A stand-in, an input or constant passed through, or a value that an
    // earlier output binding already holds.
    copy_bytes(args.outputs[o].data, refs_[id].data, refs_[id].bytes());
    bump(output_copies_);
  }
}

void Context::execute(const rts_execute_args& args) {
  if (args.struct_size < offsetof(rts_execute_args, allocator) + sizeof(args.allocator)) {
    fail_invalid("rts_execute_args.struct_size ", args.struct_size, " is too small");
  }
  // Lazy specialization switches here, between executes: one atomic load
  // when nothing finished.
  const uint64_t start = profile_ != nullptr ? StepProfile::now_ns() : 0;
  if (specializer_.has_ready()) install_specializations();
  const MeasurementGate::Turn turn(specializer_.gate());
  if (settings_.graph_capture == RTS_GRAPH_CAPTURE_WHOLE_GRAPH && capture_refusal_.empty()) {
    execute_captured(args);
  } else {
    if (!capture_refusal_.empty()) bump(eager_instead_of_capture_);
    execute_planned(args);
  }
  if (profile_ != nullptr) profile_->add_execute(profile_group_, StepProfile::now_ns() - start);
  bump(executes_);
}

void Context::install_specializations() {
  const size_t switched = specializer_.install_ready(
      [this](const std::vector<int64_t>& signature) { return plans_.find(signature); });
  // A capture holds the kernels it was recorded with: record again so the
  // replay runs the specialized ones.
  if (switched > 0) capture_.reset();
}

void Context::execute_planned(const rts_execute_args& args) {
  kit::check_input_bindings(engine_.graph(), args, "cpu");
  const ExecutionPlan& plan = plan_for(args);
  note_current_plan(plan);
  arena_.reserve(plan.arena_bytes);
  conversion_scratch_.reserve(plan.conversion_bytes);

  const std::vector<EngineValue>& values = engine_.values();
  const std::vector<uint32_t>& outputs = engine_.output_values();
  // Dynamic outputs are bound once the run has resolved their shapes.
  uint64_t allocated = 0;
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const EngineValue& value = values[outputs[o]];
    if (plan.dynamic_value[outputs[o]]) continue;
    allocated += kit::bind_output(o, value.name, value.dtype, plan.dims[outputs[o]], args);
  }
  const int in_place_outputs = resolve_storage(plan, args);
  const PlanRows* rows = profile_ != nullptr ? &plan_rows(plan, args) : nullptr;
  if (rows != nullptr) profile_group_ = rows->group;
  for (size_t n = 0; n < engine_.nodes().size(); ++n) {
    if (n >= plan.first_dynamic_node) resolve_dynamic_shapes(n, plan);
    if (plan.runs_nothing(n)) continue;
    const uint64_t start = rows != nullptr ? StepProfile::now_ns() : 0;
    if (plan.runs_group(n)) {
      run_group(n, plan);
    } else {
      run_node(n, plan);
    }
    if (rows != nullptr) profile_->add_row(rows->rows[n], StepProfile::now_ns() - start);
  }
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const EngineValue& value = values[outputs[o]];
    if (!plan.dynamic_value[outputs[o]]) continue;
    allocated += kit::bind_output(o, value.name, value.dtype, runtime_dims_[outputs[o]], args);
  }
  bump(output_allocations_, allocated);
  copy_remaining_outputs(plan, args);
  bump(in_place_updates_, in_place_outputs);
  bump(kernel_runs_, plan.run_nodes);
  bump(plan.specialized ? specialized_kernel_runs_ : generic_kernel_runs_, plan.tunable_nodes);
}

// Replays the capture when the bindings match it; otherwise (first call,
// new input shapes, moved aliased input, new kernels) records a new one
// from the checked plan. The recording execute runs the new capture once.
void Context::execute_captured(const rts_execute_args& args) {
  if (capture_ && capture_->matches(args)) {
    bump(replays_);
  } else {
    kit::check_input_bindings(engine_.graph(), args, "cpu");
    const ExecutionPlan& plan = plan_for(args);
    note_current_plan(plan);
    capture_.reset();  // free the old recording before the new one allocates
    const kit::TraceSpan span(engine_.plugin().host(), "capture",
                              [] { return std::string("record"); });
    Capture::Profiling profiling;
    if (profile_ != nullptr) {
      const PlanRows& rows = plan_rows(plan, args);
      profiling = {profile_.get(), rows.group, rows.rows};
    }
    capture_ = std::make_unique<Capture>(engine_, plan, args, profiling);
    capture_steps_.store(capture_->steps(), std::memory_order_relaxed);
    bump(records_);
  }
  const kit::TraceSpan span(engine_.plugin().host(), "capture",
                            [] { return std::string("replay"); });
  profile_group_ = capture_->profile_group();
  bump(output_allocations_, capture_->replay(args));
  bump(kernel_runs_, capture_->nodes());
  bump(in_place_updates_, capture_->in_place_outputs());
  bump(specialized_kernel_runs_, capture_->specialized_nodes());
  bump(generic_kernel_runs_, capture_->generic_nodes());
}

void Context::note_current_plan(const ExecutionPlan& plan) {
  if (plan.id == current_plan_id_ && plan.specialized == current_plan_specialized_) return;
  current_plan_id_ = plan.id;
  current_plan_specialized_ = plan.specialized;
  specialized_ready_.store(plan.specialized ? 1 : 0, std::memory_order_relaxed);
  planned_peak_bytes_.store(plan.arena_bytes, std::memory_order_relaxed);
  fused_groups_.store(plan.groups.size(), std::memory_order_relaxed);
  naive_peak_bytes_.store(plan.naive_bytes, std::memory_order_relaxed);
  prepared_bytes_.store(plan.prepared_bytes, std::memory_order_relaxed);
  std::map<std::string, uint64_t> counts;
  for (size_t n = 0; n < plan.variant.size(); ++n) {
    if (plan.specialized && plan.tunable[n] && plan.variant[n] != nullptr) {
      ++counts[str_cat("variant.", plan.variant[n])];
    }
  }
  std::lock_guard lock(variants_mutex_);
  variant_counts_.assign(counts.begin(), counts.end());
}

void Context::report_counters(const rts_counter_sink& sink) const {
  if (sink.counter == nullptr) return;
  auto report = [&sink](const char* name, const std::atomic<uint64_t>& value) {
    sink.counter(sink.user, name, value.load(std::memory_order_relaxed));
  };
  report("executes", executes_);
  report("kernel_runs", kernel_runs_);
  report("plans_built", plans_built_);
  report("output_allocations", output_allocations_);
  report("in_place_updates", in_place_updates_);
  report("output_copies", output_copies_);
  report("generic_kernel_runs", generic_kernel_runs_);
  report("specialized_kernel_runs", specialized_kernel_runs_);
  report("specialized_ready", specialized_ready_);
  report("records", records_);
  report("replays", replays_);
  report("capture_steps", capture_steps_);
  report("eager_instead_of_capture", eager_instead_of_capture_);
  report("dynamic_shape_resolutions", dynamic_shape_resolutions_);
  report("planned_peak_bytes", planned_peak_bytes_);
  report("naive_peak_bytes", naive_peak_bytes_);
  report("prepared_bytes", prepared_bytes_);
  report("fused_groups", fused_groups_);
  const TuningCounters& tuning = specializer_.counters();
  report("tuning_runs", tuning.runs);
  report("tuning_cache_hits", tuning.cache_hits);
  report("tuning_cache_misses", tuning.cache_misses);
  report("tuning_cache_rejected", tuning.cache_rejected);
  report("tuning_us", tuning.micros);
  // Where the weights live: read in place from the host's memory (a mapped
  // checkpoint), copied at build, or converted to f32 for f32 kernels.
  const ConstantBytes constants = engine_.constant_bytes();
  sink.counter(sink.user, "constant_bytes_borrowed", constants.borrowed);
  sink.counter(sink.user, "constant_bytes_copied", constants.copied);
  sink.counter(sink.user, "constant_bytes_converted", constants.converted);
  std::lock_guard lock(variants_mutex_);
  for (const auto& [name, nodes] : variant_counts_) sink.counter(sink.user, name.c_str(), nodes);
}

}  // namespace rtscope::cpu
