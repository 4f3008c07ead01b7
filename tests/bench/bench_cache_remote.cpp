// B17: time to first inference of the default decoder (eager) warm from the
// shared Redis tier with an empty local file, vs warm from the local file,
// side by side in one run (target: remote-warm <= 1.5x local-warm); cold for
// scale. Both warm forms time what a new process pays: making the cache,
// loading its file (empty for the remote form), and the first Model::run
// with its cache lookups (the remote form's fetch happens inside them).
// Model building is left out, as in B6.
//
// Also: fetch and push time of N entries of 16 KiB in one fingerprint over
// loopback (BM_RemoteFetch, BM_RemotePush).
//
// Starts its own redis-server (as the tests do); without one it says so and
// exits 0.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "bench_support.hpp"
#include "cache/redis_server.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/templates.hpp"

namespace {

using namespace rtscope;
using namespace rtscope::bench;
namespace fs = std::filesystem;

testing::RedisServer* server = nullptr;
fs::path work_dir;

struct FirstRun {
  double first_ms = 0;  // cache made and loaded, then the first run
  uint64_t tuning_runs = 0;
  uint64_t remote_fetched = 0;
};

// A new process's start: a cache with `options` loaded from `file`, a model
// on it, its first inference. Saves the cache afterwards when `save`.
FirstRun start(RuntimeCache::Options options, const fs::path& file, bool save) {
  const auto inputs = decoder_prompt();
  auto model = Model::build(default_decoder(), cpu_registry(), {.backends = {"cpu"}});
  FirstRun result;
  const auto begin = Clock::now();
  auto cache = std::make_shared<RuntimeCache>(std::move(options));
  cache->load(file);
  for (Module* module : model->modules()) {
    RuntimeSettings settings;
    settings.kernel_specialization = KernelSpecialization::eager;
    settings.runtime_cache = cache;
    module->set_runtime_settings(settings);
  }
  benchmark::DoNotOptimize(model->run(inputs));
  result.first_ms = ms_since(begin);
  for (Module* module : model->modules()) {
    result.tuning_runs += module->stats().plugin_counters.at("tuning_runs");
  }
  result.remote_fetched = cache->counters().remote_fetched;
  model.reset();
  if (save) cache->save(file);
  return result;
}

// A generous timeout: these measure time, they do not test faults (a shared
// machine under load can stall a round trip past the default 200 ms).
RuntimeCache::Options remote(const std::string& name_space) {
  RuntimeCache::Options options;
  options.remote = server->url(name_space, "?timeout_ms=10000");
  return options;
}

std::vector<uint8_t> random_bytes(uint32_t seed, std::size_t size) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

void fill(RuntimeCache& cache, int64_t entries) {
  for (int64_t i = 0; i < entries; ++i) {
    const auto bytes = random_bytes(static_cast<uint32_t>(i), 16 << 10);
    cache.put({"cpu", "bench-device", "kernel/" + std::to_string(i)}, bytes.data(), bytes.size());
  }
}

void BM_RemotePush(benchmark::State& state) {
  // A new namespace for every push, across the library's repeated runs of
  // this function: SET NX stores nothing already there.
  static int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    RuntimeCache cache(remote("push" + std::to_string(round++)));
    fill(cache, state.range(0));
    state.ResumeTiming();
    if (cache.push_remote() != static_cast<uint64_t>(state.range(0))) {
      state.SkipWithError("the push stored fewer entries than given");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * (16 << 10));
}
BENCHMARK(BM_RemotePush)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond);

void BM_RemoteFetch(benchmark::State& state) {
  const std::string name_space = "fetch" + std::to_string(state.range(0));
  {
    RuntimeCache seed(remote(name_space));
    fill(seed, state.range(0));
    seed.push_remote();
  }
  for (auto _ : state) {
    RuntimeCache cache(remote(name_space));
    if (!cache.get({"cpu", "bench-device", "kernel/0"}) ||
        cache.counters().remote_fetched != static_cast<uint64_t>(state.range(0))) {
      state.SkipWithError("the fetch missed entries");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * (16 << 10));
}
BENCHMARK(BM_RemoteFetch)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond);

void side_by_side() {
  constexpr int kRounds = 15;
  const fs::path seed_file = work_dir / "seed.cache";
  // B17 runs the remote tier as configured by default (timeout 200 ms).
  RuntimeCache::Options by_default;
  by_default.remote = server->url("b17");
  const FirstRun cold = start(by_default, seed_file, /*save=*/true);  // fills file and tier
  std::vector<double> local_ms, remote_ms;
  uint64_t warm_tuning = 0, fetched = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Alternate the order so drift on a shared machine hits both alike.
    for (int form = 0; form < 2; ++form) {
      const bool remote_form = (round + form) % 2 == 0;
      if (remote_form) {
        const fs::path empty = work_dir / ("host" + std::to_string(round) + ".cache");
        const FirstRun run = start(by_default, empty, /*save=*/false);
        remote_ms.push_back(run.first_ms);
        warm_tuning += run.tuning_runs;
        fetched = run.remote_fetched;
      } else {
        const FirstRun run = start({}, seed_file, /*save=*/false);
        local_ms.push_back(run.first_ms);
        warm_tuning += run.tuning_runs;
      }
    }
  }
  const Spread local = spread(local_ms);
  const Spread remote_warm = spread(remote_ms);
  std::printf(
      "\nB17 side by side, %d rounds, decoder defaults, 16-token prompt, eager, loopback Redis:\n"
      "  cold first inference         %8.2f ms (tuning runs %llu)\n"
      "  local-warm first inference   %s\n"
      "  remote-warm first inference  %s, %llu entries fetched\n"
      "  remote-warm / local-warm = %.2f median, %.2f min (target <= 1.5)   warm tuning runs: "
      "%llu\n",
      kRounds, cold.first_ms, static_cast<unsigned long long>(cold.tuning_runs),
      describe(local).c_str(), describe(remote_warm).c_str(),
      static_cast<unsigned long long>(fetched), remote_warm.median / local.median,
      remote_warm.min / local.min, static_cast<unsigned long long>(warm_tuning));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!testing::redis_server_binary()) {
    std::printf("bench_cache_remote: redis-server is not installed (scripts/install-deps.sh)\n");
    return 0;
  }
  testing::RedisServer redis;
  server = &redis;
  work_dir = fs::temp_directory_path() / ("rtscope_bench_remote_" + std::to_string(getpid()));
  fs::create_directories(work_dir);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  side_by_side();
  std::error_code ignored;
  fs::remove_all(work_dir, ignored);
  return 0;
}
