// B11: KV-cache decode step on the CPU plugin at max_seq 4096 vs 256.
//
// Decoder: layers 2, d_model 256, heads 4, vocab 1024, f32, generic kernels
// (kernel_specialization none, so no background tuning competes for the
// cores). A prefill of 16 tokens fills the caches; every timed step then
// decodes one token at position 16, so the attention work is the same at
// both cache lengths and only the cache size differs. Three ways to run
// the step:
//   model      Model::run with the caches as state buffers: the host binds
//              each updated cache onto its state, the plugin writes one row.
//   in_place   the same engine driven through its execution context with
//              every aliased output bound onto its cache input.
//   separate   the same, but each updated cache bound to separate storage:
//              aliasing disabled, so the plugin copies the whole cache
//              before writing the row. (Module::execute always binds an
//              aliased output onto its input, so this path goes below it.)
// Target: step time at 4096 <= 1.2x the time at 256 with aliasing. The
// separate case shows the copy the aliasing saves.
//
// BM_DecodeStep/<max_seq>/<binding> times one configuration per benchmark.
// BM_B11Ratio/<binding> alternates a 256 and a 4096 step in every iteration
// (side by side, so machine noise hits both alike) and reports per-step
// microseconds of each and their ratio as counters.
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "abi_graph.hpp"
#include "engine.hpp"
#include "execution_context.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/templates.hpp"

namespace {

using namespace rtscope;

constexpr int64_t kPrefill = 16;
constexpr int64_t kDecodePos = kPrefill;
constexpr int64_t kShortCache = 256;
constexpr int64_t kLongCache = 4096;

enum Binding : int64_t { kModel = 0, kInPlace = 1, kSeparate = 2 };
const char* const kBindingNames[] = {"model", "in_place", "separate"};

Tensor position(int64_t value) {
  Tensor t = Tensor::empty(DType::i64, {1});
  t.data_as<int64_t>()[0] = value;
  return t;
}

rts_tensor abi_tensor(const std::string& name, Tensor& tensor) {
  rts_tensor t{};
  t.struct_size = sizeof(t);
  t.name = name.c_str();
  t.dtype = static_cast<rts_dtype>(tensor.dtype());
  t.rank = static_cast<uint32_t>(tensor.shape().size());
  for (uint32_t d = 0; d < t.rank; ++d) t.dims[d] = tensor.shape()[d];
  t.data = tensor.data();
  t.size_bytes = tensor.size_bytes();
  t.residency = RTS_RESIDENCY_HOST;
  return t;
}

// One decoder at one max_seq, prefilled, with everything a timed step
// needs prepared: a step allocates nothing.
class DecodeSetup {
 public:
  DecodeSetup(PluginRegistry& registry, int64_t max_seq) {
    DecoderParams params;  // layers 2, d_model 256, heads 4, vocab 1024
    params.max_seq = max_seq;
    params.seed = 7;
    RuntimeSettings settings;
    settings.kernel_specialization = KernelSpecialization::none;
    model_ = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
    if (model_->modules().size() != 1) throw std::runtime_error("expected one cpu module");
    model_->modules()[0]->set_runtime_settings(settings);
    const Tensor prompt = Tensor::random(DType::i64, {1, kPrefill}, 3, double(params.vocab - 1));
    model_->run({{"tokens", prompt}, {"pos", position(0)}});
    step_inputs_ = {{"tokens", Tensor::random(DType::i64, {1, 1}, 4, double(params.vocab - 1))},
                    {"pos", position(kDecodePos)}};

    // The same partition as an engine of its own, run through its context.
    abi_ = std::make_unique<AbiPartition>(model_->graph(), model_->partitions().at(0), "b11");
    engine_ = Engine::build(registry.get("cpu"), 0, abi_->graph());
    context_ = std::make_unique<ExecutionContext>(engine_, settings, nullptr);
    for (const BindingInfo& input : engine_->inputs()) {
      Tensor tensor = input.name == "tokens" || input.name == "pos"
                          ? step_inputs_.at(input.name)
                          : model_->state().at(input.name).clone();  // the prefilled cache
      inputs_.push_back(tensor);
    }
    for (uint32_t o = 0; o < engine_->outputs().size(); ++o) {
      const BindingInfo& output = engine_->outputs()[o];
      const int alias = engine_->aliased_input(o);
      Shape shape(output.dims.begin(), output.dims.end());
      for (int64_t& dim : shape) dim = dim < 0 ? 1 : dim;  // seq 1
      Tensor separate = Tensor::zeros(output.dtype, shape);
      separate_outputs_.push_back(separate);
      in_place_outputs_.push_back(alias >= 0 ? inputs_[alias] : separate);
    }
    for (size_t i = 0; i < inputs_.size(); ++i) {
      abi_inputs_.push_back(abi_tensor(engine_->inputs()[i].name, inputs_[i]));
    }
    for (size_t o = 0; o < separate_outputs_.size(); ++o) {
      const std::string& name = engine_->outputs()[o].name;
      abi_in_place_.push_back(abi_tensor(name, in_place_outputs_[o]));
      abi_separate_.push_back(abi_tensor(name, separate_outputs_[o]));
    }
    for (int i = 0; i < 3; ++i) {  // warm: contexts, plans, buffers
      step(kModel);
      step(kInPlace);
      step(kSeparate);
    }
  }

  void step(int64_t binding) {
    if (binding == kModel) {
      benchmark::DoNotOptimize(model_->run(step_inputs_));
      return;
    }
    std::vector<rts_tensor>& outputs = binding == kInPlace ? abi_in_place_ : abi_separate_;
    const rts_execute_args args = execute_args(abi_inputs_, outputs);
    context_->execute(args, "b11");
  }

  // The plugin's count of outputs written in place, over the runs of
  // `binding`'s path (the model's module, or the engine's context).
  uint64_t in_place_updates(int64_t binding) const {
    const auto counters =
        binding == kModel ? model_->modules()[0]->stats().plugin_counters : context_->counters();
    return counters.at("in_place_updates");
  }

  // Bytes of all KV caches together: what a step without aliasing copies.
  size_t cache_bytes() const {
    size_t bytes = 0;
    for (const auto& [name, tensor] : model_->state()) bytes += tensor.size_bytes();
    return bytes;
  }

 private:
  std::unique_ptr<Model> model_;
  std::map<std::string, Tensor> step_inputs_;
  std::unique_ptr<AbiPartition> abi_;
  std::shared_ptr<Engine> engine_;
  std::unique_ptr<ExecutionContext> context_;
  std::vector<Tensor> inputs_;
  std::vector<Tensor> in_place_outputs_;
  std::vector<Tensor> separate_outputs_;
  std::vector<rts_tensor> abi_inputs_;
  std::vector<rts_tensor> abi_in_place_;
  std::vector<rts_tensor> abi_separate_;
};

PluginRegistry& registry() {
  static PluginRegistry instance;
  static const bool loaded = (instance.load({.name = "cpu"}), true);
  (void)loaded;
  return instance;
}

DecodeSetup& setup(int64_t max_seq) {
  static std::map<int64_t, std::unique_ptr<DecodeSetup>> setups;
  auto& slot = setups[max_seq];
  if (!slot) slot = std::make_unique<DecodeSetup>(registry(), max_seq);
  return *slot;
}

void BM_DecodeStep(benchmark::State& state) {
  const int64_t max_seq = state.range(0);
  const int64_t binding = state.range(1);
  DecodeSetup& s = setup(max_seq);
  const uint64_t updates_before = s.in_place_updates(binding);
  for (auto _ : state) s.step(binding);
  state.SetLabel(kBindingNames[binding]);
  // 4 with aliasing (two layers' K and V), 0 when every cache is copied.
  state.counters["in_place_updates_per_step"] =
      static_cast<double>(s.in_place_updates(binding) - updates_before) /
      static_cast<double>(state.iterations());
  state.counters["cache_bytes"] = static_cast<double>(s.cache_bytes());
}
BENCHMARK(BM_DecodeStep)
    ->ArgNames({"max_seq", "binding"})
    ->ArgsProduct({{kShortCache, kLongCache}, {kModel, kInPlace, kSeparate}})
    ->Unit(benchmark::kMicrosecond);

void BM_B11Ratio(benchmark::State& state) {
  const int64_t binding = state.range(0);
  DecodeSetup& short_cache = setup(kShortCache);
  DecodeSetup& long_cache = setup(kLongCache);
  using Clock = std::chrono::steady_clock;
  double short_ns = 0, long_ns = 0;
  for (auto _ : state) {
    const auto begin = Clock::now();
    short_cache.step(binding);
    const auto middle = Clock::now();
    long_cache.step(binding);
    const auto end = Clock::now();
    short_ns += std::chrono::duration<double, std::nano>(middle - begin).count();
    long_ns += std::chrono::duration<double, std::nano>(end - middle).count();
  }
  const double steps = static_cast<double>(state.iterations());
  state.SetLabel(kBindingNames[binding]);
  state.counters["us_256"] = short_ns / steps / 1e3;
  state.counters["us_4096"] = long_ns / steps / 1e3;
  state.counters["ratio_4096_vs_256"] = long_ns / short_ns;
}
BENCHMARK(BM_B11Ratio)
    ->ArgNames({"binding"})
    ->Arg(kModel)
    ->Arg(kInPlace)
    ->Arg(kSeparate)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
