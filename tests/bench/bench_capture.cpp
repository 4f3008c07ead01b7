// B4: graph capture on the CPU plugin. A 64-node graph of tiny ops
// (add / mul / relu / scale on f32[16]) runs through Module::execute_into
// with a preallocated output (the path Model and the runner take), once
// planned (graph_capture disabled) and once as a captured replay. Both use
// eager kernel specialization, so only the capture differs. Reported: host
// time per node for each and their ratio (target: replay <= 1/5 of eager).
//
// The Google Benchmark cases give per-variant numbers; after them the
// program measures both side by side in interleaved rounds and prints,
// per node, the median, min and max of wall time and of the thread's CPU
// time (which time slices another process takes do not inflate, so it is
// the number to read on a loaded machine), over the whole execute and
// marginally (64-node minus 1-node execute, over 63: the per-node
// overhead without the per-call cost both paths share).
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"

namespace {

using namespace rtscope;
using namespace rtscope::bench;

constexpr int kNodes = 64;
constexpr int64_t kWidth = 16;

// x -> [add w_add, mul w_mul, relu, scale 0.9] repeated, `nodes` ops -> y
Graph tiny_ops_graph(int nodes) {
  Graph g;
  g.name = "tiny_ops";
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(kWidth)}}, {}});
  const ValueType vector_type{DType::f32, {Dim::fixed(kWidth)}};
  g.weights.push_back({{"w_add", vector_type, {}}, {WeightInit::Kind::seeded, 1, 0.1, 0.0, {}}});
  g.weights.push_back({{"w_mul", vector_type, {}}, {WeightInit::Kind::seeded, 2, 0.1, 1.0, {}}});
  std::string h = "x";
  for (int i = 0; i < nodes; ++i) {
    const std::string out = i + 1 == nodes ? "y" : "h" + std::to_string(i);
    const std::string name = "n" + std::to_string(i);
    switch (i % 4) {
      case 0:
        g.nodes.push_back({name, "add", {h, "w_add"}, {out}, {}, {}});
        break;
      case 1:
        g.nodes.push_back({name, "mul", {h, "w_mul"}, {out}, {}, {}});
        break;
      case 2:
        g.nodes.push_back({name, "relu", {h}, {out}, {}, {}});
        break;
      default:
        g.nodes.push_back({name, "scale", {h}, {out}, {{"factor", 0.9}}, {}});
        break;
    }
    h = out;
  }
  g.outputs = {"y"};
  validate(g);
  return g;
}

struct Setup {
  PluginRegistry registry;
  std::unique_ptr<Model> planned;
  std::unique_ptr<Model> captured;
  Tensor x = Tensor::random(DType::f32, {kWidth}, 42);
  std::vector<Tensor> planned_out{Tensor::empty(DType::f32, {kWidth})};
  std::vector<Tensor> captured_out{Tensor::empty(DType::f32, {kWidth})};
  RuntimeConfigScope planned_config;
  RuntimeConfigScope captured_config;

  explicit Setup(int nodes)
      : planned(build(nodes)),
        captured(build(nodes)),
        planned_config(runtime_config(*planned, {{"kernel_specialization", "eager"}})),
        captured_config(runtime_config(
            *captured, {{"kernel_specialization", "eager"}, {"graph_capture", "whole_graph"}})) {
    // Warm both: the first execute creates the context (and the recording).
    for (int i = 0; i < 100; ++i) {
      run_planned();
      run_captured();
    }
  }

  std::unique_ptr<Model> build(int nodes) {
    if (!registry.find("cpu")) {
      PluginSpec spec;
      spec.name = "cpu";
      registry.load(spec);
    }
    auto model = Model::build(tiny_ops_graph(nodes), registry, {.backends = {"cpu"}});
    if (model->modules().size() != 1) throw std::runtime_error("expected one cpu module");
    return model;
  }

  // Model::modules() builds a vector: looked up once, not per execute.
  Module& planned_module() { return *planned_module_; }
  Module& captured_module() { return *captured_module_; }
  Module* planned_module_ = planned->modules()[0];
  Module* captured_module_ = captured->modules()[0];
  void run_planned() {
    planned_module().execute_into({&x, 1}, planned_out);
    benchmark::DoNotOptimize(planned_out[0].data());
  }
  void run_captured() {
    captured_module().execute_into({&x, 1}, captured_out);
    benchmark::DoNotOptimize(captured_out[0].data());
  }
};

Setup& setup() {
  static Setup instance(kNodes);
  return instance;
}

// The same path with a single node: the per-call cost both modes share
// (Module::execute, bindings, plugin entry), measured to separate it from
// the per-node cost.
Setup& single_node_setup() {
  static Setup instance(1);
  return instance;
}

void report(benchmark::State& state, Module& module) {
  state.counters["time_per_node"] = benchmark::Counter(
      kNodes, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  const auto counters = module.stats().plugin_counters;
  state.counters["records"] = static_cast<double>(counters.at("records"));
  state.counters["replays"] = static_cast<double>(counters.at("replays"));
}

void BM_Eager64TinyNodes(benchmark::State& state) {
  Setup& s = setup();
  for (auto _ : state) s.run_planned();
  report(state, s.planned_module());
}
BENCHMARK(BM_Eager64TinyNodes);

void BM_Replay64TinyNodes(benchmark::State& state) {
  Setup& s = setup();
  for (auto _ : state) s.run_captured();
  report(state, s.captured_module());
}
BENCHMARK(BM_Replay64TinyNodes);

double thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

// Wall and thread CPU nanoseconds per execute, over `calls` executes.
struct PerCall {
  double wall = 0, cpu = 0;
};

template <typename Run>
PerCall ns_per_call(Run run, int calls) {
  const auto begin = std::chrono::steady_clock::now();
  const double cpu_begin = thread_cpu_ns();
  for (int i = 0; i < calls; ++i) run();
  const double cpu = thread_cpu_ns() - cpu_begin;
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  return {std::chrono::duration<double, std::nano>(elapsed).count() / calls, cpu / calls};
}

struct Series {
  std::vector<double> wall, cpu;
  void add(PerCall value, double divisor) {
    wall.push_back(value.wall / divisor);
    cpu.push_back(value.cpu / divisor);
  }
};

void print_pair(const char* what, const std::vector<double>& eager,
                const std::vector<double>& replay) {
  const Spread e = spread(eager);
  const Spread r = spread(replay);
  std::printf(
      "  %s:\n"
      "    eager  median %6.2f ns (min %.2f, max %.2f)\n"
      "    replay median %6.2f ns (min %.2f, max %.2f)\n"
      "    replay / eager = %.3f by medians, %.3f by minimums (target <= 0.200)\n",
      what, e.median, e.min, e.max, r.median, r.min, r.max, r.median / e.median, r.min / e.min);
}

// The work itself, without any runtime: the same 64 ops on f32[16] as
// plain loops (one out-of-line function per op, each writing a buffer of
// its own that the next one reads), so per-node times above this are the
// runtime's overhead.
[[gnu::noinline]] void add_loop(const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < kWidth; ++i) out[i] = a[i] + b[i];
}
[[gnu::noinline]] void mul_loop(const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < kWidth; ++i) out[i] = a[i] * b[i];
}
[[gnu::noinline]] void relu_loop(const float* a, const float*, float* out) {
  for (int64_t i = 0; i < kWidth; ++i) out[i] = a[i] > 0.0f ? a[i] : 0.0f;
}
[[gnu::noinline]] void scale_loop(const float* a, const float*, float* out) {
  for (int64_t i = 0; i < kWidth; ++i) out[i] = a[i] * 0.9f;
}

struct DirectChain {
  std::vector<float> buffers = std::vector<float>((kNodes + 1) * kWidth, 0.5f);
  std::vector<float> w_add = std::vector<float>(kWidth, 0.1f);
  std::vector<float> w_mul = std::vector<float>(kWidth, 1.1f);
  void run() {
    using Loop = void (*)(const float*, const float*, float*);
    static constexpr Loop kLoops[4] = {add_loop, mul_loop, relu_loop, scale_loop};
    for (int n = 0; n < kNodes; ++n) {
      const float* weight = n % 4 == 0 ? w_add.data() : w_mul.data();
      kLoops[n % 4](&buffers[n * kWidth], weight, &buffers[(n + 1) * kWidth]);
    }
    benchmark::DoNotOptimize(buffers.data());
  }
};

void side_by_side() {
  Setup& s = setup();
  Setup& one = single_node_setup();
  constexpr int kRounds = 31;
  constexpr int kCalls = 2000;
  Series eager, replay, eager_marginal, replay_marginal;
  std::vector<double> e64_cpu, r64_cpu, e1_cpu, r1_cpu, direct_cpu;
  DirectChain direct;
  for (int round = 0; round < kRounds; ++round) {
    const PerCall e64 = ns_per_call([&] { s.run_planned(); }, kCalls);
    const PerCall r64 = ns_per_call([&] { s.run_captured(); }, kCalls);
    const PerCall e1 = ns_per_call([&] { one.run_planned(); }, kCalls);
    const PerCall r1 = ns_per_call([&] { one.run_captured(); }, kCalls);
    eager.add(e64, kNodes);
    replay.add(r64, kNodes);
    eager_marginal.add({e64.wall - e1.wall, e64.cpu - e1.cpu}, kNodes - 1);
    replay_marginal.add({r64.wall - r1.wall, r64.cpu - r1.cpu}, kNodes - 1);
    direct_cpu.push_back(ns_per_call([&] { direct.run(); }, kCalls).cpu / kNodes);
    e64_cpu.push_back(e64.cpu);
    r64_cpu.push_back(r64.cpu);
    e1_cpu.push_back(e1.cpu);
    r1_cpu.push_back(r1.cpu);
  }
  // Correctness: both paths give the same y.
  const auto a = s.planned_module().execute({s.x})[0].to_doubles();
  const auto b = s.captured_module().execute({s.x})[0].to_doubles();
  const auto counters = s.captured_module().stats().plugin_counters;
  std::printf(
      "\nB4 side by side (%d rounds x %d executes, %d nodes f32[%lld], Module::execute_into):\n",
      kRounds, kCalls, kNodes, static_cast<long long>(kWidth));
  print_pair("host wall time per node (execute time / 64)", eager.wall, replay.wall);
  print_pair("host CPU time per node (thread CPU time of the execute / 64)", eager.cpu, replay.cpu);
  std::printf(
      "  marginal time per node ((64-node - 1-node execute) / 63; leaves out the per-call\n"
      "  cost both share):\n");
  print_pair("wall, per round", eager_marginal.wall, replay_marginal.wall);
  print_pair("CPU, per round", eager_marginal.cpu, replay_marginal.cpu);
  // Minimum of each execute over the rounds, then the difference: the
  // least disturbed estimate on a shared machine.
  const double e_marginal = (spread(e64_cpu).min - spread(e1_cpu).min) / (kNodes - 1);
  const double r_marginal = (spread(r64_cpu).min - spread(r1_cpu).min) / (kNodes - 1);
  std::printf(
      "  CPU, from each execute's minimum: eager %.2f ns, replay %.2f ns per node; "
      "replay / eager = %.3f\n"
      "  per-call CPU minimum, 1-node execute: eager %.1f ns, replay %.1f ns\n",
      e_marginal, r_marginal, r_marginal / e_marginal, spread(e1_cpu).min, spread(r1_cpu).min);
  const Spread floor = spread(direct_cpu);
  std::printf(
      "  the same 64 ops as plain loops, no runtime: CPU median %.2f ns per node (min %.2f);\n"
      "  per-node overhead above them, from the minimums: eager %.2f ns, replay %.2f ns\n",
      floor.median, floor.min, e_marginal - floor.min, r_marginal - floor.min);
  // Steps of the replay: 64 when every node runs on its own, fewer when
  // the capture chained elementwise nodes (plugins/cpu/capture_chain.hpp).
  const auto steps = counters.find("capture_steps");
  std::printf("  outputs equal: %s   records %llu   replays %llu   replay steps %s\n",
              a == b ? "yes" : "NO", static_cast<unsigned long long>(counters.at("records")),
              static_cast<unsigned long long>(counters.at("replays")),
              steps == counters.end() ? "(not reported)" : std::to_string(steps->second).c_str());
}

}  // namespace

int main(int argc, char** argv) { return run_benchmarks_then(argc, argv, side_by_side); }
