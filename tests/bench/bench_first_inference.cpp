// B6 (CPU form): time to first inference of the default decoder (layers 2,
// d_model 256, heads 4, vocab 1024, max_seq 256) with eager kernel
// specialization, cold (empty RuntimeCache: every kernel choice is
// measured) vs warm (a RuntimeCache filled by a previous module: choices are
// read back, nothing is measured). A warm start in a new process is
// simulated by building a new Model that shares the filled cache. Target:
// warm <= 1/20 of cold; the warm run's tuning counter must be 0.
//
// "First inference" is the first Model::run of a 16-token prompt after the
// model is built: context creation, planning, specialization and the run
// itself. Model building is reported on its own. The steady-state time of
// the same prompt is shown for comparison.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "bench_support.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/templates.hpp"

namespace {

using namespace rtscope;
using namespace rtscope::bench;

struct FirstRun {
  double build_ms = 0, first_ms = 0;
  uint64_t tuning_runs = 0, tuning_us = 0, cache_hits = 0;
  std::unique_ptr<Model> model;
};

// Builds a model on `cache` with eager specialization and times its first
// inference.
FirstRun first_inference(const std::shared_ptr<RuntimeCache>& cache) {
  FirstRun result;
  const auto inputs = decoder_prompt();
  auto begin = Clock::now();
  result.model = Model::build(default_decoder(), cpu_registry(), {.backends = {"cpu"}});
  for (Module* module : result.model->modules()) {
    RuntimeSettings settings;
    settings.kernel_specialization = KernelSpecialization::eager;
    settings.runtime_cache = cache;
    module->set_runtime_settings(settings);
  }
  result.build_ms = ms_since(begin);
  begin = Clock::now();
  benchmark::DoNotOptimize(result.model->run(inputs));
  result.first_ms = ms_since(begin);
  for (Module* module : result.model->modules()) {
    const auto counters = module->stats().plugin_counters;
    result.tuning_runs += counters.at("tuning_runs");
    result.tuning_us += counters.at("tuning_us");
    result.cache_hits += counters.at("tuning_cache_hits");
  }
  return result;
}

void set_counters(benchmark::State& state, const FirstRun& run) {
  state.counters["tuning_runs"] = static_cast<double>(run.tuning_runs);
  state.counters["tuning_ms"] = static_cast<double>(run.tuning_us) / 1000.0;
  state.counters["cache_hits"] = static_cast<double>(run.cache_hits);
  state.counters["build_ms"] = run.build_ms;
}

void BM_FirstInferenceCold(benchmark::State& state) {
  FirstRun last;
  for (auto _ : state) {
    last = first_inference(std::make_shared<RuntimeCache>());
    state.SetIterationTime(last.first_ms / 1000.0);
  }
  set_counters(state, last);
}
BENCHMARK(BM_FirstInferenceCold)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);

void BM_FirstInferenceWarm(benchmark::State& state) {
  auto cache = std::make_shared<RuntimeCache>();
  first_inference(cache);  // the previous module that fills the cache
  FirstRun last;
  for (auto _ : state) {
    last = first_inference(cache);
    state.SetIterationTime(last.first_ms / 1000.0);
  }
  if (last.tuning_runs != 0) state.SkipWithError("the warm start measured kernels");
  set_counters(state, last);
}
BENCHMARK(BM_FirstInferenceWarm)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);

void BM_SteadyState(benchmark::State& state) {
  FirstRun run = first_inference(std::make_shared<RuntimeCache>());
  const auto inputs = decoder_prompt();
  for (int i = 0; i < 3; ++i) run.model->run(inputs);
  for (auto _ : state) benchmark::DoNotOptimize(run.model->run(inputs));
}
BENCHMARK(BM_SteadyState)->Unit(benchmark::kMillisecond);

void side_by_side() {
  constexpr int kRounds = 7;
  std::vector<double> cold_ms, warm_ms, tuning_ms, cold_build_ms, steady_ms;
  uint64_t cold_tuning_runs = 0, warm_tuning_runs = 0, warm_hits = 0;
  bool warm_never_tuned = true;
  for (int round = 0; round < kRounds; ++round) {
    auto cache = std::make_shared<RuntimeCache>();
    const FirstRun cold = first_inference(cache);
    FirstRun warm = first_inference(cache);
    cold_ms.push_back(cold.first_ms);
    cold_build_ms.push_back(cold.build_ms);
    warm_ms.push_back(warm.first_ms);
    tuning_ms.push_back(static_cast<double>(cold.tuning_us) / 1000.0);
    cold_tuning_runs = cold.tuning_runs;
    warm_tuning_runs = std::max(warm_tuning_runs, warm.tuning_runs);
    warm_hits = warm.cache_hits;
    warm_never_tuned = warm_never_tuned && warm.tuning_runs == 0;
    const auto inputs = decoder_prompt();
    for (int i = 0; i < 3; ++i) {
      const auto begin = Clock::now();
      benchmark::DoNotOptimize(warm.model->run(inputs));
      steady_ms.push_back(ms_since(begin));
    }
  }
  const Spread cold = spread(cold_ms);
  const Spread warm = spread(warm_ms);
  std::printf(
      "\nB6 (cpu) side by side, %d rounds, decoder defaults, 16-token prompt, eager:\n"
      "  model build            %s  [not in first inference]\n"
      "  cold first inference   %s\n"
      "    of which tuning      %s, %llu candidates measured\n"
      "  warm first inference   %s, tuning runs %llu, cache hits %llu\n"
      "  steady-state inference %s\n"
      "  warm / cold = %.3f (target <= 0.050)   warm tuning counter 0 in every round: %s\n",
      kRounds, describe(spread(cold_build_ms)).c_str(), describe(cold).c_str(),
      describe(spread(tuning_ms)).c_str(), static_cast<unsigned long long>(cold_tuning_runs),
      describe(warm).c_str(), static_cast<unsigned long long>(warm_tuning_runs),
      static_cast<unsigned long long>(warm_hits), describe(spread(steady_ms)).c_str(),
      warm.median / cold.median, warm_never_tuned ? "yes" : "NO");
}

}  // namespace

int main(int argc, char** argv) { return run_benchmarks_then(argc, argv, side_by_side); }
