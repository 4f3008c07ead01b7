// B2: runtime_config enter + exit over 1,000 modules with no context
// created (target <= 100 ns per module), and B3: contexts created by
// runtime_config + graph_capture around one block (exactly 1 per module),
// reported as a counter.
#include <benchmark/benchmark.h>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"

namespace {

using namespace rtscope;

constexpr int kModules = 1000;

Graph tiny_graph() {
  Graph g;
  g.name = "tiny";
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(8)}}, {}});
  g.nodes.push_back({"relu", "relu", {"x"}, {"y"}, {}, {}});
  g.outputs = {"y"};
  validate(g);
  return g;
}

struct Fleet {
  PluginRegistry registry;
  std::vector<std::unique_ptr<Model>> models;
  std::vector<Module*> modules;

  explicit Fleet(const std::string& plugin) {
    registry.load({.name = plugin});
    const Graph graph = tiny_graph();
    for (int i = 0; i < kModules; ++i) {
      models.push_back(Model::build(graph, registry, {.backends = {plugin}}));
      modules.push_back(models.back()->modules()[0]);
    }
  }
};

void BM_RuntimeConfigEnterExit(benchmark::State& state, const std::string& plugin) {
  Fleet fleet(plugin);
  const ScopeTarget target(fleet.modules);
  const SettingOverrides overrides = {{"kernel_specialization", "eager"},
                                      {"graph_capture", "whole_graph"}};
  for (auto _ : state) {
    auto scope = runtime_config(target, overrides);
    benchmark::DoNotOptimize(scope.size());
  }
  uint64_t contexts = 0;
  for (Module* m : fleet.modules) contexts += m->stats().contexts_created;
  if (contexts != 0) state.SkipWithError("runtime_config created an execution context");
  // Seconds per module (printed with an SI prefix: "85n" is 85 ns).
  state.counters["time_per_module"] = benchmark::Counter(
      kModules, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK_CAPTURE(BM_RuntimeConfigEnterExit, cpu, std::string("cpu"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RuntimeConfigEnterExit, testing, std::string("testing"))
    ->Unit(benchmark::kMicrosecond);

// B3: one block under runtime_config and graph_capture; counts contexts.
void BM_ConfigThenCaptureContexts(benchmark::State& state) {
  PluginRegistry registry;
  registry.load({.name = "testing"});
  const Graph graph = tiny_graph();
  const Tensor x = Tensor::random(DType::f32, {8}, 1);
  double per_module = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<std::unique_ptr<Model>> models;
    std::vector<Module*> modules;
    for (int i = 0; i < 16; ++i) {
      models.push_back(Model::build(graph, registry, {.backends = {"testing"}}));
      modules.push_back(models.back()->modules()[0]);
    }
    state.ResumeTiming();
    {
      auto config = runtime_config(modules, {{"kernel_specialization", "eager"}});
      auto capture = graph_capture(modules);
      for (int step = 0; step < 4; ++step) {
        for (auto& m : models) m->run({{"x", x}});
      }
    }
    uint64_t contexts = 0;
    for (Module* m : modules) contexts += m->stats().contexts_created;
    per_module = static_cast<double>(contexts) / static_cast<double>(modules.size());
  }
  state.counters["contexts_per_module"] = per_module;
}
BENCHMARK(BM_ConfigThenCaptureContexts)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
