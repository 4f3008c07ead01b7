// The thread-safety annotations of plugin_abi.h, exercised: slots marked
// thread-safe are called from several threads at once, and distinct
// contexts of one engine execute concurrently with checked results.
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "abi_check_support.hpp"

namespace rtscope::conformance::detail {
namespace {

// Runs `body(index)` on `count` threads; rethrows the first failure.
void on_threads(int count, const std::function<void(int)>& body) {
  std::mutex mutex;
  std::exception_ptr first;
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!first) first = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (first) std::rethrow_exception(first);
}

std::string concurrent_execute(const Probe& probe, int threads) {
  constexpr int kRuns = 6;
  const Target& t = probe.target;
  Engine engine = build_engine(t, probe.graph->abi());
  std::vector<Context> contexts;
  for (int i = 0; i < threads; ++i) contexts.push_back(create_context(t, engine));
  // Inputs and references are prepared up front so the threads only execute.
  struct Run {
    std::map<std::string, Tensor> inputs;
    std::vector<reference::RefTensor> expected;
  };
  std::vector<std::vector<Run>> runs(threads);
  for (int i = 0; i < threads; ++i) {
    for (int r = 0; r < kRuns; ++r) {
      auto inputs = probe.graph->inputs(probe.seed + 300 + uint64_t(i) * kRuns + r);
      auto expected = probe.graph->reference_outputs(inputs);
      runs[i].push_back({std::move(inputs), std::move(expected)});
    }
  }
  on_threads(threads, [&](int i) {
    for (int r = 0; r < kRuns; ++r) {
      const Run& run = runs[i][r];
      const Comparison cmp =
          compare(*probe.graph, execute(t, engine, contexts[i], run.inputs), run.expected);
      if (!cmp.ok())
        throw CallFailure("thread " + std::to_string(i) + " run " + std::to_string(r) +
                          " got a wrong result: " + cmp.describe());
    }
  });
  return std::to_string(threads) + " threads x " + std::to_string(kRuns) + " executes";
}

std::string concurrent_create_context(const Probe& probe, int threads) {
  const Target& t = probe.target;
  Engine engine = build_engine(t, probe.graph->abi());
  std::vector<Context> kept(threads);
  on_threads(threads, [&](int i) {
    for (int r = 0; r < 2; ++r) create_context(t, engine).reset();
    kept[i] = create_context(t, engine);
  });
  on_threads(threads, [&](int i) {
    execute_and_verify(probe, engine, kept[i], probe.seed + 400 + uint64_t(i));
  });
  return "";
}

std::string concurrent_plugin_slots(const Probe& probe, int threads) {
  const Target& t = probe.target;
  const CaseGraph& graph = *probe.graph;
  on_threads(threads, [&](int i) {
    for (int r = 0; r < 3; ++r) {
      if (!supports(t, graph)) throw CallFailure("query_node changed its answer under threads");
      rts_device_info info{};
      info.struct_size = sizeof(info);
      ErrorCapture err;
      err.require_ok(t.api().device_info(t.handle(), t.device, &info, err.sink()), "device_info");
      t.api().device_count(t.handle());
    }
    // Distinct engines built at once, each serialized and inspected.
    Engine engine = build_engine(t, graph.abi());
    engine_info(t, engine);
    if (probe.serialization_declined.empty()) serialize_engine(t, engine);
    Context context = create_context(t, engine);
    execute_and_verify(probe, engine, context, probe.seed + 500 + uint64_t(i));
  });
  return "";
}

std::string counters_during_execute(const Probe& probe) {
  const Target& t = probe.target;
  Engine engine = build_engine(t, probe.graph->abi());
  Context context = create_context(t, engine);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> counters{0};
  std::thread reader([&] {
    rts_counter_sink sink{&counters, [](void* user, const char* name, uint64_t) {
                            if (name) static_cast<std::atomic<uint64_t>*>(user)->fetch_add(1);
                          }};
    while (!done.load()) t.api().context_counters(context.get(), &sink);
    t.api().context_counters(context.get(), &sink);
  });
  try {
    for (int r = 0; r < 8; ++r) execute_and_verify(probe, engine, context, probe.seed + 600 + r);
  } catch (...) {
    done = true;
    reader.join();
    throw;
  }
  done = true;
  reader.join();
  return std::to_string(counters.load()) + " counter reports";
}

}  // namespace

std::vector<CheckResult> thread_checks(const Probe& probe, int threads) {
  const std::string dtype = probe.dtype();
  return {
      run_check("threads.execute_separate_contexts", dtype,
                [&] { return concurrent_execute(probe, threads); }),
      run_check("threads.create_context", dtype,
                [&] { return concurrent_create_context(probe, threads); }),
      run_check("threads.plugin_slots", dtype,
                [&] { return concurrent_plugin_slots(probe, threads); }),
      run_check("threads.counters_during_execute", dtype,
                [&] { return counters_during_execute(probe); }),
  };
}

}  // namespace rtscope::conformance::detail
