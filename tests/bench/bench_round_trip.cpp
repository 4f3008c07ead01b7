// B1: the cost of one host -> plugin -> host round trip through the C ABI.
//
// The testing plugin runs an empty engine (input "x" f32[16] passed straight
// to output "x") into a preallocated output, so what is timed is the call
// machinery, not a kernel:
//   BM_RoundTrip_RawAbi        dlopen + the rts_plugin_api table directly:
//                              the floor any host can reach.
//   BM_RoundTrip_ModuleExecute rtscope::Module::execute_into: binding checks,
//                              context acquisition and output wrapping on top.
// The context is created before timing; both cases check afterwards that
// the plugin counted exactly the executes that were timed.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <cstring>
#include <map>
#include <string>

#include "rtscope/plugin_abi.h"

// The Module case builds its engine from a hand-made rts_graph, which only
// the host-internal Engine::build accepts (an empty graph partitions into no
// module at all). Define RTSCOPE_BENCH_RAW_ABI_ONLY to build the raw case
// alone.
#if __has_include("engine.hpp") && !defined(RTSCOPE_BENCH_RAW_ABI_ONLY)
#define RTSCOPE_BENCH_MODULE_CASE 1
#include "engine.hpp"
#include "rtscope/module.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/tensor.hpp"
#endif

namespace {

constexpr int64_t kElements = 16;
constexpr const char* kTestingPlugin =
    RTSCOPE_PLUGIN_BUILD_DIR "/testing/librtscope_plugin_testing.so";

// x f32[16] -> x, no nodes. The pointers stay valid for the program's life.
rts_graph empty_graph() {
  static rts_value x = [] {
    rts_value v{};
    v.name = "x";
    v.dtype = RTS_DTYPE_F32;
    v.rank = 1;
    v.dims[0] = v.min_dims[0] = v.max_dims[0] = kElements;
    return v;
  }();
  rts_graph graph{};
  graph.struct_size = sizeof(graph);
  graph.name = "empty";
  graph.inputs = &x;
  graph.n_inputs = 1;
  graph.outputs = &x;
  graph.n_outputs = 1;
  return graph;
}

struct ErrorText {
  std::string text;
  rts_error_sink sink{this, [](void* user, rts_status status, const char* message) {
                        static_cast<ErrorText*>(user)->text =
                            std::string(message) + " (status " + std::to_string(status) + ")";
                      }};
};

uint64_t plugin_counter(const rts_plugin_api& api, rts_context* context, const char* name) {
  std::map<std::string, uint64_t> values;
  const rts_counter_sink sink{&values, [](void* user, const char* key, uint64_t value) {
                                (*static_cast<std::map<std::string, uint64_t>*>(user))[key] = value;
                              }};
  api.context_counters(context, &sink);
  return values[name];
}

// The testing plugin loaded by hand, the way a minimal C host would.
class RawPlugin {
 public:
  RawPlugin() {
    library_ = dlopen(kTestingPlugin, RTLD_NOW | RTLD_LOCAL);
    if (!library_) {
      error_ = dlerror();
      return;
    }
    auto entry = reinterpret_cast<rts_plugin_entry_fn>(dlsym(library_, RTS_PLUGIN_ENTRY_SYMBOL));
    if (!entry) {
      error_ = std::string(kTestingPlugin) + " has no " + RTS_PLUGIN_ENTRY_SYMBOL;
      return;
    }
    api_ = entry();
    host_.struct_size = sizeof(host_);
    host_.log = [](void*, rts_log_level, const char*) {};
    ErrorText err;
    if (api_->init(&host_, RTS_ABI_VERSION_MINOR, &plugin_, &err.sink) != RTS_OK) {
      error_ = "init: " + err.text;
    }
  }
  ~RawPlugin() {
    if (plugin_) api_->shutdown(plugin_);
    if (library_) dlclose(library_);
  }
  RawPlugin(const RawPlugin&) = delete;
  RawPlugin& operator=(const RawPlugin&) = delete;

  const std::string& error() const { return error_; }
  const rts_plugin_api& api() const { return *api_; }
  rts_plugin* handle() const { return plugin_; }

 private:
  void* library_ = nullptr;
  const rts_plugin_api* api_ = nullptr;
  rts_host_api host_{};
  rts_plugin* plugin_ = nullptr;
  std::string error_;
};

void BM_RoundTrip_RawAbi(benchmark::State& state) {
  RawPlugin plugin;
  if (!plugin.error().empty()) {
    state.SkipWithError(plugin.error().c_str());
    return;
  }
  const rts_plugin_api& api = plugin.api();
  ErrorText err;
  const rts_graph graph = empty_graph();
  rts_engine* engine = nullptr;
  if (api.build_engine(plugin.handle(), 0, &graph, &engine, &err.sink) != RTS_OK) {
    state.SkipWithError(("build_engine: " + err.text).c_str());
    return;
  }
  rts_runtime_settings settings{};
  settings.struct_size = sizeof(settings);
  rts_context* context = nullptr;
  if (api.create_context(engine, &settings, &context, &err.sink) != RTS_OK) {
    api.destroy_engine(engine);
    state.SkipWithError(("create_context: " + err.text).c_str());
    return;
  }

  float input[kElements];
  float output[kElements];
  for (int64_t i = 0; i < kElements; ++i) input[i] = static_cast<float>(i);
  rts_tensor in{};
  in.struct_size = sizeof(in);
  in.name = "x";
  in.dtype = RTS_DTYPE_F32;
  in.rank = 1;
  in.dims[0] = kElements;
  in.data = input;
  in.size_bytes = sizeof(input);
  in.residency = RTS_RESIDENCY_HOST;
  rts_tensor out = in;
  out.data = output;
  out.size_bytes = sizeof(output);
  rts_execute_args args{};
  args.struct_size = sizeof(args);
  args.inputs = &in;
  args.n_inputs = 1;
  args.outputs = &out;
  args.n_outputs = 1;

  for (auto _ : state) {
    if (api.execute(context, &args, &err.sink) != RTS_OK) {
      state.SkipWithError(("execute: " + err.text).c_str());
      break;
    }
    benchmark::ClobberMemory();
  }
  if (std::memcmp(input, output, sizeof(input)) != 0) {
    state.SkipWithError("output differs from input");
  } else if (plugin_counter(api, context, "executes") !=
             static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("the plugin counted a different number of executes");
  }
  state.SetItemsProcessed(state.iterations());
  api.destroy_context(context);
  api.destroy_engine(engine);
}
BENCHMARK(BM_RoundTrip_RawAbi);

#ifdef RTSCOPE_BENCH_MODULE_CASE
void BM_RoundTrip_ModuleExecute(benchmark::State& state) {
  try {
    rtscope::PluginRegistry registry;
    rtscope::PluginSpec spec;
    spec.path = kTestingPlugin;
    auto plugin = registry.load(spec);
    rtscope::Module module("round_trip", rtscope::Engine::build(plugin, 0, empty_graph()));
    const std::vector<rtscope::Tensor> inputs{
        rtscope::Tensor::random(rtscope::DType::f32, {kElements}, 1)};
    std::vector<rtscope::Tensor> outputs{rtscope::Tensor::empty(rtscope::DType::f32, {kElements})};
    // The first execute creates the context; keep it out of the timing.
    module.execute_into(inputs, outputs);

    for (auto _ : state) {
      module.execute_into(inputs, outputs);
      benchmark::DoNotOptimize(outputs.data());
    }
    const rtscope::ModuleStats stats = module.stats();
    if (stats.contexts_created != 1 ||
        stats.plugin_counters.at("executes") != static_cast<uint64_t>(state.iterations()) + 1) {
      state.SkipWithError("unexpected context or execute count");
    } else if (std::memcmp(inputs[0].data(), outputs[0].data(), inputs[0].size_bytes()) != 0) {
      state.SkipWithError("output differs from input");
    }
    state.SetItemsProcessed(state.iterations());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_RoundTrip_ModuleExecute);
#endif

}  // namespace

BENCHMARK_MAIN();
