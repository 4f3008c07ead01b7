#include "context.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "rtscope/kit/bindings.hpp"
#include "rtscope/kit/output_binding.hpp"

namespace rtscope_testing {
namespace {

using kit::fail;

using Clock = std::chrono::steady_clock;

// What a "compiled kernel" looks like in the runtime cache: deterministic,
// so a cache written by one run is recognized by the next.
std::string kernel_blob(const Step& step) {
  return "rtscope-testing-kernel 1\nop=" + std::string(op_name(step.op)) +
         "\nnode=" + step.desc->name + "\n";
}

// Sleeps for long waits and spins for the tail, so short execute costs are
// accurate to a few microseconds instead of the scheduler's granularity.
void wait_until(Clock::time_point deadline) {
  const auto sleep_until = deadline - std::chrono::microseconds(200);
  if (Clock::now() < sleep_until) std::this_thread::sleep_until(sleep_until);
  while (Clock::now() < deadline) {
  }
}

// Counters of an execute have one writer (executes of a context are
// externally synchronized) and readers on any thread: a relaxed load and
// store keeps every read untorn without a locked read-modify-write.
void bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

Context::Context(const Engine& engine, const rts_runtime_settings* settings)
    : engine_(engine), settings_(kit::read_settings(settings)) {
  TestingPlugin& plugin = engine_.plugin();
  const Config config = plugin.config();
  if (config.fail_create_context) fail(RTS_ERROR_DEVICE, *config.fail_create_context);
  const rts_cache_store* cache = kit::complete_cache(settings_.cache);
  if (settings_.cache && !cache) {
    plugin.log(RTS_LOG_WARN, "testing: runtime cache store is incomplete; running without it");
  }

  if (config.context_cost_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(config.context_cost_ms));
  }
  compile_kernels(config, cache);

  const size_t slots = engine_.values().size();
  slot_data_.assign(slots, nullptr);
  slot_shapes_.assign(slots, Shape{});
  scratch_.resize(slots);
  // Constants never change: bind them once.
  for (size_t id = 0; id < slots; ++id) {
    const kit::ResolvedValue& value = engine_.values()[id];
    if (value.role != kit::ValueRole::kConstant) continue;
    const kit::ConstantDesc& constant = engine_.graph().constants[value.role_index];
    slot_data_[id] = reinterpret_cast<const float*>(constant.bytes.data());
    slot_shapes_[id].rank = static_cast<uint32_t>(constant.value.dims.size());
    std::copy(constant.value.dims.begin(), constant.value.dims.end(),
              slot_shapes_[id].dims.begin());
  }
  recorded_shapes_.reserve(engine_.graph().inputs.size());
  // Counted last: a constructor that throws never reaches the destructor.
  plugin.contexts_created.fetch_add(1);
}

Context::~Context() { engine_.plugin().contexts_destroyed.fetch_add(1); }

void Context::compile_kernels(const Config& config, const rts_cache_store* cache) {
  TestingPlugin& plugin = engine_.plugin();
  for (const Step& step : engine_.nodes()) {
    const std::string blob = kernel_blob(step);
    if (cache) {
      std::vector<uint8_t> found;
      const rts_status status = kit::cache_get(*cache, kDeviceFingerprint, step.kernel_key, found);
      if (status == RTS_OK && std::string(found.begin(), found.end()) == blob) {
        kernel_cache_hits_.fetch_add(1);
        continue;
      }
      if (status == RTS_OK) {
        plugin.log(RTS_LOG_WARN, "testing: cached kernel '" + step.kernel_key +
                                     "' has unexpected bytes; compiling it again");
      } else if (status != RTS_ERROR_NOT_FOUND) {
        plugin.log(RTS_LOG_WARN, "testing: runtime cache get of '" + step.kernel_key +
                                     "' failed with status " + std::to_string(status));
      }
    }
    if (config.compile_cost_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(config.compile_cost_ms));
    }
    kernels_compiled_.fetch_add(1);
    if (cache) {
      const rts_status status = cache->put(cache->user, kDeviceFingerprint, step.kernel_key.c_str(),
                                           blob.data(), blob.size());
      // The cache is an optimization: failing to fill it is not an error.
      if (status != RTS_OK) {
        plugin.log(RTS_LOG_WARN, "testing: runtime cache put of '" + step.kernel_key +
                                     "' failed with status " + std::to_string(status));
      }
    }
  }
}

void Context::bind_inputs(const rts_execute_args& args) {
  kit::check_input_bindings(engine_.graph(), args);
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& t = args.inputs[i];
    kit::check_input_dims(engine_.graph().inputs[i], std::span<const int64_t>(t.dims, t.rank));
    // Device residency needs no staging: device memory is host memory here.
    const uint32_t id = engine_.input_values()[i];
    slot_data_[id] = static_cast<const float*>(t.data);
    slot_shapes_[id].rank = t.rank;
    std::copy(t.dims, t.dims + t.rank, slot_shapes_[id].dims.begin());
  }
}

void* Context::bind_output(const rts_execute_args& args, uint32_t index, const Shape& shape,
                           bool must_allocate, rts_dtype dtype) {
  rts_tensor& t = args.outputs[index];
  // A data-dependent output always comes from the host's allocator.
  if (must_allocate) {
    t.data = nullptr;
    t.size_bytes = 0;
  }
  // Device memory is host memory here: a device-resident binding is written in place.
  kit::bind_output(index, engine_.values()[engine_.output_values()[index]].name, dtype,
                   std::span<const int64_t>(shape.dims.data(), shape.rank), args, true);
  return t.data;
}

void Context::execute(const rts_execute_args& args) {
  // Without $RTSCOPE_TESTING_CONFIG (the round-trip benchmark times this
  // path) no Config is built: zeroing one costs more than the rest of an
  // empty execute. The clock is read only when a cost is configured.
  // Overlapping executes would share the scratch state below; say so
  // instead of computing garbage (relaxed: a detector, not a lock).
  if (executing_.load(std::memory_order_relaxed)) {
    fail(RTS_ERROR_INTERNAL,
         "testing: execute entered while another execute of the same context runs; the ABI "
         "requires the host to serialize the executes of one context");
  }
  executing_.store(true, std::memory_order_relaxed);
  struct Executing {
    std::atomic<bool>& flag;
    ~Executing() { flag.store(false, std::memory_order_relaxed); }
  } executing{executing_};
  uint64_t execute_cost_us = 0;
  if (TestingPlugin::configured()) {
    const Config config = engine_.plugin().config();
    if (config.fail_execute) fail(RTS_ERROR_DEVICE, *config.fail_execute);
    execute_cost_us = config.execute_cost_us;
  }
  const auto start = execute_cost_us > 0 ? Clock::now() : Clock::time_point{};
  if (!RTS_HAS_FIELD(&args, rts_execute_args, allocator)) {
    fail(RTS_ERROR_INVALID_ARGUMENT, "rts_execute_args struct_size is too small");
  }
  bind_inputs(args);

  for (const Step& step : engine_.nodes()) {
    const Shape& a = slot_shapes_[step.inputs[0]];
    if (step.op == Op::kNonzero) {
      // Rows are counted first so the data-dependent kernel can ask the
      // host for exactly the storage it needs.
      const float* x = slot_data_[step.inputs[0]];
      const int64_t rows = step.max_count > 0 ? step.max_count : count_nonzero(x, a.numel());
      Shape shape;
      shape.rank = 2;
      shape.dims[0] = rows;
      shape.dims[1] = a.rank;
      auto* out = static_cast<int64_t*>(bind_output(args, static_cast<uint32_t>(step.engine_output),
                                                    shape, step.dynamic_output, RTS_DTYPE_I64));
      run_nonzero(x, a, rows, out);
      slot_shapes_[step.outputs[0]] = shape;
      continue;
    }
    const Shape shape = op_arity(step.op) == 2
                            ? broadcast_shapes(a, slot_shapes_[step.inputs[1]], step.desc->name)
                            : a;
    float* out;
    if (step.engine_output >= 0) {
      out = static_cast<float*>(
          bind_output(args, static_cast<uint32_t>(step.engine_output), shape, step.dynamic_output));
    } else {
      auto& buffer = scratch_[step.outputs[0]];
      buffer.resize(static_cast<std::size_t>(shape.numel()));
      out = buffer.data();
    }
    const float* x = slot_data_[step.inputs[0]];
    switch (step.op) {
      case Op::kAdd:
      case Op::kMul:
        run_binary(step.op, x, a, slot_data_[step.inputs[1]], slot_shapes_[step.inputs[1]], out,
                   shape);
        break;
      case Op::kScale:
        run_scale(x, shape.numel(), step.factor, out);
        break;
      case Op::kRelu:
        run_relu(x, shape.numel(), out);
        break;
      case Op::kNonzero:  // handled above: its output is i64 and sized by the data
        break;
    }
    slot_data_[step.outputs[0]] = out;
    slot_shapes_[step.outputs[0]] = shape;
  }

  // Outputs no step wrote in place: engine inputs passed through, constants
  // and repeated outputs.
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    if (engine_.output_in_place()[o]) continue;
    const uint32_t slot = engine_.output_values()[o];
    const Shape& shape = slot_shapes_[slot];
    auto* dst = static_cast<float*>(bind_output(args, o, shape, false));
    const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * sizeof(float);
    // memmove: the host may bind an output onto its input's storage.
    if (bytes > 0 && dst != slot_data_[slot]) std::memmove(dst, slot_data_[slot], bytes);
  }

  track_capture();
  if (execute_cost_us > 0) wait_until(start + std::chrono::microseconds(execute_cost_us));
  bump(executes_);
}

void Context::track_capture() {
  if (settings_.graph_capture != RTS_GRAPH_CAPTURE_WHOLE_GRAPH) return;
  // A recorded graph is only valid for the input shapes it was recorded
  // with; any change records it again, as CUDA graphs would.
  const std::vector<uint32_t>& inputs = engine_.input_values();
  bool same = recorded_;
  for (std::size_t i = 0; same && i < inputs.size(); ++i) {
    same = slot_shapes_[inputs[i]] == recorded_shapes_[i];
  }
  if (same) {
    bump(replays_);
    return;
  }
  recorded_shapes_.clear();
  for (uint32_t id : inputs) recorded_shapes_.push_back(slot_shapes_[id]);
  recorded_ = true;
  bump(records_);
}

void Context::report_counters(const rts_counter_sink& sink) const {
  if (!sink.counter) return;
  const TestingPlugin& plugin = engine_.plugin();
  const uint64_t created = plugin.contexts_created.load();
  const uint64_t destroyed = plugin.contexts_destroyed.load();
  const struct {
    const char* name;
    uint64_t value;
  } counters[] = {
      {"executes", executes_.load()},
      {"kernels_compiled", kernels_compiled_.load()},
      {"kernel_cache_hits", kernel_cache_hits_.load()},
      {"records", records_.load()},
      {"replays", replays_.load()},
      {"contexts_created", created},
      {"contexts_destroyed", destroyed},
      {"contexts_live", created - destroyed},
      {"engines_live", static_cast<uint64_t>(plugin.engines_live.load())},
      {"device_allocations_live", plugin.device_allocations_live()},
  };
  for (const auto& c : counters) sink.counter(sink.user, c.name, c.value);
}

}  // namespace rtscope_testing
