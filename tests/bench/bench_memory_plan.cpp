// B12: peak activation memory of the default decoder on the CPU plugin,
// planned (alias-aware liveness, released buffers reused) vs naive (every
// intermediate in a buffer of its own), for a prefill of 16 tokens and a
// one-token decode step. The numbers come from the plugin's counters for
// the plan the step ran (`planned_peak_bytes`, `naive_peak_bytes`); the
// timed loop is the step itself. Target: planned <= 60% of naive.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/templates.hpp"

namespace {

using namespace rtscope;

Tensor position(int64_t value) {
  Tensor t = Tensor::empty(DType::i64, {1});
  t.data_as<int64_t>()[0] = value;
  return t;
}

struct Setup {
  PluginRegistry registry;
  std::unique_ptr<Model> model;
  DecoderParams params;  // layers 2, d_model 256, heads 4, vocab 1024, max_seq 256

  Setup() {
    registry.load({.name = "cpu"});
    params.seed = 7;
    model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
    if (model->modules().size() != 1) throw std::runtime_error("expected one cpu module");
  }

  uint64_t counter(const std::string& name) const {
    return model->modules()[0]->stats().plugin_counters.at(name);
  }
};

Setup& setup() {
  static Setup instance;
  return instance;
}

// Runs `tokens` tokens at position `pos` and reports the plan's memory.
void run_and_report(benchmark::State& state, int64_t tokens, int64_t pos) {
  Setup& s = setup();
  const std::map<std::string, Tensor> inputs = {
      {"tokens", Tensor::random(DType::i64, {1, tokens}, 9, double(s.params.vocab - 1))},
      {"pos", position(pos)}};
  for (auto _ : state) benchmark::DoNotOptimize(s.model->run(inputs));
  const double planned = static_cast<double>(s.counter("planned_peak_bytes"));
  const double naive = static_cast<double>(s.counter("naive_peak_bytes"));
  state.counters["planned_bytes"] = planned;
  state.counters["naive_bytes"] = naive;
  state.counters["planned_vs_naive"] = planned / naive;
}

void BM_MemoryPlan_Prefill16(benchmark::State& state) { run_and_report(state, 16, 0); }
BENCHMARK(BM_MemoryPlan_Prefill16)->Unit(benchmark::kMicrosecond);

void BM_MemoryPlan_Decode1(benchmark::State& state) { run_and_report(state, 1, 16); }
BENCHMARK(BM_MemoryPlan_Decode1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
