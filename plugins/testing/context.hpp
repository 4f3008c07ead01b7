// An execution context: the runtime settings it was created with, its
// (simulated) compiled kernels, graph-capture state and counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "engine.hpp"
#include "rtscope/kit/settings.hpp"

namespace rtscope_testing {

class Context : public kit::Context {
 public:
  // Simulates the costly part of context creation: a fixed setup cost and
  // one kernel compile per node unless the runtime cache already holds it.
  Context(const Engine& engine, const rts_runtime_settings* settings);
  ~Context() override;

  // Externally synchronized (the ABI contract), so the scratch state below
  // needs no lock; the counters are atomics because context_counters may
  // run concurrently with it.
  void execute(const rts_execute_args& args) override;
  void report_counters(const rts_counter_sink& sink) const override;

 private:
  void compile_kernels(const Config& config, const rts_cache_store* cache);
  void bind_inputs(const rts_execute_args& args);
  // Storage for engine output `index` holding `shape`: the caller's buffer
  // when it is big enough and the node allows it, else the host allocator.
  // `dtype` is f32 except for nonzero's i64 indices.
  void* bind_output(const rts_execute_args& args, uint32_t index, const Shape& shape,
                    bool must_allocate, rts_dtype dtype = RTS_DTYPE_F32);
  void track_capture();

  const Engine& engine_;
  kit::ContextSettings settings_;

  // Set while an execute runs: a second one entering meanwhile fails.
  std::atomic<bool> executing_{false};
  std::atomic<uint64_t> executes_{0};
  std::atomic<uint64_t> kernels_compiled_{0};
  std::atomic<uint64_t> kernel_cache_hits_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> replays_{0};

  // Per-execute state by value id, kept to avoid allocating on every call.
  std::vector<const float*> slot_data_;
  std::vector<Shape> slot_shapes_;
  std::vector<std::vector<float>> scratch_;
  bool recorded_ = false;
  std::vector<Shape> recorded_shapes_;
};

}  // namespace rtscope_testing
