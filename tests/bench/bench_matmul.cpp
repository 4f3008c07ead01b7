// B8: 1024x1024x1024 f32 matrix product on all cores, three ways:
//   BM_Matmul_Cblas      cblas_sgemm called directly: the OpenBLAS ceiling.
//                        OpenBLAS on one thread per call (as the cpu plugin
//                        sets it), every core running one sgemm on its own
//                        block of columns, started together.
//   BM_Matmul_Eigen      Eigen MatrixXf product (threads through OpenMP).
//   BM_Matmul_CpuPlugin  the cpu plugin's one-node matmul engine executed
//                        through the C ABI (dlopen, entry, init, build,
//                        context, execute into preallocated output).
// Inputs are seeded uniform random values in [-1, 1]. Each case reports
// GFLOP/s (2·M·N·K per iteration). The plugin path can be overridden with
// the RTSCOPE_CPU_PLUGIN environment variable.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dlfcn.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rtscope/plugin_abi.h"
#include "support/abi_values.hpp"

namespace {

constexpr int64_t kSize = 1024;
constexpr double kFlopsPerProduct = 2.0 * kSize * kSize * kSize;
constexpr const char* kCpuPlugin = RTSCOPE_PLUGIN_BUILD_DIR "/cpu/librtscope_plugin_cpu.so";

std::vector<float> random_matrix(uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(kSize * kSize);
  for (float& value : values) value = uniform(generator);
  return values;
}

void report_gflops(benchmark::State& state) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(kFlopsPerProduct * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Matmul_Cblas(benchmark::State& state) {
  const std::vector<float> a = random_matrix(1);
  const std::vector<float> b = random_matrix(2);
  std::vector<float> c(kSize * kSize);
  openblas_set_num_threads(1);
  const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  const int64_t block = (kSize + cores - 1) / cores;
  const auto columns = [&](int64_t begin) {
    const int64_t width = std::min(block, kSize - begin);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kSize, static_cast<int>(width), kSize,
                1.0f, a.data(), kSize, b.data() + begin, kSize, 0.0f, c.data() + begin, kSize);
  };
  for (auto _ : state) {
    std::vector<std::jthread> others;
    for (int64_t begin = block; begin < kSize; begin += block) others.emplace_back(columns, begin);
    columns(0);
    others.clear();  // joins
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["threads"] = static_cast<double>(cores);
  report_gflops(state);
}

void BM_Matmul_Eigen(benchmark::State& state) {
  Eigen::setNbThreads(static_cast<int>(std::thread::hardware_concurrency()));
  const std::vector<float> a_values = random_matrix(1);
  const std::vector<float> b_values = random_matrix(2);
  const Eigen::MatrixXf a = Eigen::Map<const Eigen::MatrixXf>(a_values.data(), kSize, kSize);
  const Eigen::MatrixXf b = Eigen::Map<const Eigen::MatrixXf>(b_values.data(), kSize, kSize);
  Eigen::MatrixXf c(kSize, kSize);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::to_string(Eigen::nbThreads()) + " threads");
  report_gflops(state);
}

// --- the plugin through its C ABI ---

struct ErrorText {
  std::string text;
  rts_error_sink sink{this, [](void* user, rts_status, const char* message) {
                        static_cast<ErrorText*>(user)->text = message;
                      }};
};

void log_to_stderr(void*, rts_log_level level, const char* message) {
  if (level >= RTS_LOG_INFO) std::fprintf(stderr, "[cpu plugin] %s\n", message);
}

rts_value matrix_value(const char* name) {
  rts_value value{};
  value.name = name;
  value.dtype = RTS_DTYPE_F32;
  value.rank = 2;
  for (int axis = 0; axis < 2; ++axis) {
    value.dims[axis] = value.min_dims[axis] = value.max_dims[axis] = kSize;
  }
  return value;
}

rts_tensor matrix_binding(const char* name, std::vector<float>& values) {
  rts_tensor tensor{};
  tensor.struct_size = sizeof(tensor);
  tensor.name = name;
  tensor.dtype = RTS_DTYPE_F32;
  tensor.rank = 2;
  tensor.dims[0] = tensor.dims[1] = kSize;
  tensor.data = values.data();
  tensor.size_bytes = values.size() * sizeof(float);
  tensor.residency = RTS_RESIDENCY_HOST;
  return tensor;
}

void BM_Matmul_CpuPlugin(benchmark::State& state) {
  const char* path =
      std::getenv("RTSCOPE_CPU_PLUGIN") ? std::getenv("RTSCOPE_CPU_PLUGIN") : kCpuPlugin;
  void* library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    state.SkipWithError((std::string("dlopen failed: ") + dlerror()).c_str());
    return;
  }
  auto entry = reinterpret_cast<rts_plugin_entry_fn>(dlsym(library, RTS_PLUGIN_ENTRY_SYMBOL));
  const rts_plugin_api* api = entry != nullptr ? entry() : nullptr;
  if (api == nullptr || api->abi_major != RTS_ABI_VERSION_MAJOR) {
    state.SkipWithError("no compatible rts_plugin_entry");
    dlclose(library);
    return;
  }
  rts_host_api host{};
  host.struct_size = sizeof(host);
  host.log = log_to_stderr;
  ErrorText error;
  rts_plugin* plugin = nullptr;
  rts_engine* engine = nullptr;
  rts_context* context = nullptr;
  auto fail = [&](const char* step) {
    state.SkipWithError((std::string(step) + ": " + error.text).c_str());
  };

  if (api->init(&host, RTS_ABI_VERSION_MINOR, &plugin, &error.sink) != RTS_OK) {
    fail("init");
    dlclose(library);
    return;
  }
  const rtscope::testing::TwoInputGraph product("b8_matmul", "matmul", matrix_value("a"),
                                                matrix_value("b"), matrix_value("c"));
  rts_runtime_settings settings{};
  settings.struct_size = sizeof(settings);
  settings.kernel_specialization = RTS_KERNEL_SPECIALIZATION_NONE;

  if (api->build_engine(plugin, 0, &product.graph, &engine, &error.sink) != RTS_OK) {
    fail("build_engine");
  } else if (api->create_context(engine, &settings, &context, &error.sink) != RTS_OK) {
    fail("create_context");
  } else {
    std::vector<float> a = random_matrix(1);
    std::vector<float> b = random_matrix(2);
    std::vector<float> c(kSize * kSize);
    const rts_tensor bound_inputs[2] = {matrix_binding("a", a), matrix_binding("b", b)};
    rts_tensor bound_output = matrix_binding("c", c);
    rts_execute_args args{};
    args.struct_size = sizeof(args);
    args.inputs = bound_inputs;
    args.n_inputs = 2;
    args.outputs = &bound_output;
    args.n_outputs = 1;
    for (auto _ : state) {
      if (api->execute(context, &args, &error.sink) != RTS_OK) {
        fail("execute");
        break;
      }
      benchmark::DoNotOptimize(c.data());
      benchmark::ClobberMemory();
    }
    report_gflops(state);
  }
  if (context != nullptr) api->destroy_context(context);
  if (engine != nullptr) api->destroy_engine(engine);
  api->shutdown(plugin);
  dlclose(library);
}

BENCHMARK(BM_Matmul_Cblas)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Matmul_Eigen)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Matmul_CpuPlugin)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
