// What several benchmark programs share: timing, the spread of repeated
// measurements, a registry with the cpu plugin, and the small decoder that
// the first-inference and remote-cache benchmarks build.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "rtscope/plugin_registry.hpp"
#include "rtscope/templates.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point begin) {
  return std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
}

// Median, minimum and maximum of repeated measurements.
struct Spread {
  double median = 0, min = 0, max = 0;
};

inline Spread spread(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {values[values.size() / 2], values.front(), values.back()};
}

// "median M ms (min A, max B)", as the side-by-side tables print a spread of
// milliseconds.
inline std::string describe(const Spread& s) {
  char text[96];
  std::snprintf(text, sizeof text, "median %8.2f ms (min %.2f, max %.2f)", s.median, s.min, s.max);
  return text;
}

// A registry holding the cpu plugin, loaded on first use.
inline PluginRegistry& cpu_registry() {
  static PluginRegistry instance;
  static const bool loaded = (instance.load({.name = "cpu"}), true);
  (void)loaded;
  return instance;
}

// The decoder template with its defaults (layers 2, d_model 256, heads 4,
// vocab 1024, max_seq 256) and weight seed 7.
inline const Graph& default_decoder() {
  static const Graph graph = [] {
    DecoderParams params;
    params.seed = 7;
    return build_decoder(params);
  }();
  return graph;
}

// A 16-token prompt at position 0 for default_decoder().
inline std::map<std::string, Tensor> decoder_prompt() {
  Tensor pos = Tensor::empty(DType::i64, {1});
  pos.data_as<int64_t>()[0] = 0;
  return {{"tokens", Tensor::random(DType::i64, {1, 16}, 5, 1023)}, {"pos", pos}};
}

// main() of a program that runs its registered benchmarks, then prints
// `report` (a side-by-side summary of repeated rounds).
inline int run_benchmarks_then(int argc, char** argv, void (*report)()) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  report();
  return 0;
}

}  // namespace rtscope::bench
