// Runtime strategies on the CPU plugin: whole-graph capture (record once per
// input shape, replay after, aliased KV caches bound directly), kernel
// specialization (none / eager / lazy, chosen by tuning) and the tuning
// results kept in a shared RuntimeCache.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/reference_outputs.hpp"
#include "support/small_models.hpp"

namespace rtscope {
namespace {

using KS = KernelSpecialization;
using Counters = std::map<std::string, uint64_t>;

Counters counters(const Model& model) { return model.modules().at(0)->stats().plugin_counters; }

uint64_t counter(const Model& model, const std::string& name) {
  const Counters all = counters(model);
  const auto found = all.find(name);
  return found == all.end() ? 0 : found->second;
}

bool any_variant_counter(const Counters& all) {
  for (const auto& [name, value] : all) {
    if (name.rfind("variant.", 0) == 0 && value > 0) return true;
  }
  return false;
}

void apply_settings(Model& model, KS specialization,
                    std::shared_ptr<RuntimeCache> cache = nullptr) {
  for (Module* module : model.modules()) {
    RuntimeSettings settings = module->runtime_settings();
    settings.kernel_specialization = specialization;
    if (cache) settings.runtime_cache = cache;
    module->set_runtime_settings(settings);
  }
}

// Largest deviation of `actual` from `expected` relative to the tolerance.
double closeness(const Tensor& actual, const Tensor& expected, double tol) {
  return reference::closeness(actual, reference::RefTensor::from(expected), tol, tol);
}

// Two heads of head_dim 32: the fixed-size attention kernels apply.
DecoderParams small_decoder(DType dtype = DType::f32) {
  DecoderParams params = testing::small_decoder_params(dtype);
  params.heads = 2;
  return params;
}

MlpParams small_mlp() {
  return MlpParams{.layers = 3, .d_in = 48, .hidden = 96, .d_out = 24, .seed = 3};
}

// A prompt of 5 tokens, then single-token decode steps: the decode step has
// another `seq` than the prompt.
std::vector<Tensor> token_stream(int64_t vocab, int decode_steps) {
  std::vector<Tensor> steps = {Tensor::random(DType::i64, {1, 5}, 77, double(vocab - 1))};
  for (int i = 0; i < decode_steps; ++i) {
    steps.push_back(Tensor::random(DType::i64, {1, 1}, 100 + i, double(vocab - 1)));
  }
  return steps;
}

class CpuStrategies : public ::testing::Test {
 protected:
  void SetUp() override {
    PluginSpec spec;
    spec.name = "cpu";
    plugin_ = registry_.load(spec);
  }

  std::unique_ptr<Model> build(const Graph& graph) {
    return Model::build(graph, registry_, {.backends = {"cpu"}});
  }

  PluginRegistry registry_;
  std::shared_ptr<Plugin> plugin_;
};

// ---------------------------------------------------------------------------
// Graph capture
// ---------------------------------------------------------------------------

class DecoderCapture : public CpuStrategies, public ::testing::WithParamInterface<DType> {};

TEST_P(DecoderCapture, ReplayMatchesPlannedRunsAndReRecordsOnSeqChange) {
  const DType dtype = GetParam();
  const double tol = dtype == DType::f16 ? 1e-2 : 1e-5;
  const Graph graph = build_decoder(small_decoder(dtype));
  auto planned = build(graph);
  auto captured = build(graph);
  // Same kernels on both sides, so only the capture machinery differs.
  apply_settings(*planned, KS::none);
  apply_settings(*captured, KS::none);
  auto capture = graph_capture(*captured);
  ASSERT_EQ(captured->modules().size(), 1u);

  const void* cache_storage = captured->state().at("k_cache_1").data();
  const std::vector<Tensor> steps = token_stream(97, 5);
  int64_t pos = 0;
  for (size_t step = 0; step < steps.size(); ++step) {
    const std::map<std::string, Tensor> inputs = {{"tokens", steps[step]},
                                                  {"pos", testing::position_tensor(pos)}};
    const auto want = planned->run(inputs);
    const auto got = captured->run(inputs);
    EXPECT_LE(closeness(got.at("logits"), want.at("logits"), tol), 1.0) << "step " << step;
    EXPECT_EQ(got.at("logits").shape(), want.at("logits").shape());
    for (const auto& [name, state] : captured->state()) {
      EXPECT_LE(closeness(state, planned->state().at(name), tol), 1.0) << name << " step " << step;
    }
    EXPECT_EQ(captured->state().at("k_cache_1").data(), cache_storage)
        << "the aliased KV cache must be bound directly and updated in place";
    pos += steps[step].shape()[1];
  }
  const Counters c = counters(*captured);
  // Prompt [1,5] records; the first [1,1] step re-records; 4 steps replay.
  EXPECT_EQ(c.at("records"), 2u);
  EXPECT_EQ(c.at("replays"), 4u);
  EXPECT_GT(c.at("in_place_updates"), 0u);
  EXPECT_EQ(counter(*planned, "records"), 0u);
  EXPECT_EQ(counter(*planned, "replays"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DecoderCapture, ::testing::Values(DType::f32, DType::f16),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_F(CpuStrategies, MlpReplayReturnsFreshOutputsEveryCallAndReRecordsOnBatchChange) {
  const Graph graph = build_mlp(small_mlp());
  auto planned = build(graph);
  auto captured = build(graph);
  // Eager: the kernels never change under the capture, so every record
  // counted here comes from a shape change (lazy would add one more when
  // its specialized kernels land).
  apply_settings(*planned, KS::none);
  apply_settings(*captured, KS::eager);
  auto capture = graph_capture(*captured);
  for (int i = 0; i < 4; ++i) {
    const Tensor x = Tensor::random(DType::f32, {8, 48}, 200 + i);
    const Tensor want = planned->run({{"x", x}}).at("y");
    const Tensor got = captured->run({{"x", x}}).at("y");
    EXPECT_LE(closeness(got, want, 1e-4), 1.0) << "call " << i;
  }
  EXPECT_EQ(counter(*captured, "records"), 1u);
  EXPECT_EQ(counter(*captured, "replays"), 3u);

  const Tensor x = Tensor::random(DType::f32, {3, 48}, 300);
  EXPECT_LE(closeness(captured->run({{"x", x}}).at("y"), planned->run({{"x", x}}).at("y"), 1e-4),
            1.0);
  EXPECT_EQ(counter(*captured, "records"), 2u) << "a new batch size re-records";
  EXPECT_EQ(counter(*captured, "replays"), 3u);
}

TEST_F(CpuStrategies, LeavingTheCaptureScopeStopsReplaying) {
  auto model = build(build_mlp(small_mlp()));
  apply_settings(*model, KS::none);  // no kernel switch can re-record meanwhile
  const Tensor x = Tensor::random(DType::f32, {4, 48}, 9);
  const Tensor before = model->run({{"x", x}}).at("y");
  {
    auto capture = graph_capture(*model);
    for (int i = 0; i < 3; ++i) model->run({{"x", x}});
    EXPECT_EQ(counter(*model, "replays"), 2u);
  }
  const Tensor after = model->run({{"x", x}}).at("y");
  EXPECT_LE(closeness(after, before, 1e-5), 1.0);
  EXPECT_EQ(model->modules()[0]->runtime_settings().graph_capture, GraphCapture::disabled);
  EXPECT_EQ(model->modules()[0]->stats().contexts_created, 3u);
  EXPECT_EQ(counter(*model, "records"), 0u) << "a fresh context without capture";
  EXPECT_EQ(counter(*model, "replays"), 0u);
}

TEST_F(CpuStrategies, AliasedInputAtANewAddressReRecords) {
  auto model = build(build_decoder(small_decoder()));
  apply_settings(*model, KS::none);  // fixed kernels: results compare exactly
  Module& module = *model->modules()[0];
  auto capture = graph_capture(module);
  auto is_cache = [&](size_t i) {
    return module.inputs()[i].name != "tokens" && module.inputs()[i].name != "pos";
  };
  std::vector<Tensor> inputs;
  size_t pos_index = 0;
  for (const BindingInfo& binding : module.inputs()) {
    if (binding.name == "tokens") {
      inputs.push_back(Tensor::random(DType::i64, {1, 1}, 1, 96));
    } else if (binding.name == "pos") {
      pos_index = inputs.size();
      inputs.push_back(testing::position_tensor(0));
    } else {
      inputs.push_back(Tensor::zeros(binding.dtype, binding.dims));
    }
  }
  module.execute(inputs);
  inputs[pos_index] = testing::position_tensor(1);  // a new non-aliased input tensor still replays
  module.execute(inputs);
  EXPECT_EQ(module.stats().plugin_counters.at("records"), 1u);
  EXPECT_EQ(module.stats().plugin_counters.at("replays"), 1u);

  // The same cache contents in two new sets of tensors: each new address
  // re-records, and both give the same results.
  std::vector<Tensor> moved;
  std::vector<Tensor> copied;
  for (size_t i = 0; i < inputs.size(); ++i) {
    moved.push_back(is_cache(i) ? inputs[i].clone() : inputs[i]);
    copied.push_back(is_cache(i) ? inputs[i].clone() : inputs[i]);
  }
  const auto from_moved = module.execute(moved);
  const auto from_copied = module.execute(copied);
  EXPECT_EQ(module.stats().plugin_counters.at("records"), 3u);
  ASSERT_EQ(from_moved.size(), from_copied.size());
  for (size_t o = 0; o < from_moved.size(); ++o) {
    EXPECT_EQ(from_moved[o].to_doubles(), from_copied[o].to_doubles()) << "output " << o;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (is_cache(i)) {
      EXPECT_EQ(moved[i].to_doubles(), copied[i].to_doubles()) << "input " << i;
    }
  }
}

// ---------------------------------------------------------------------------
// Kernel specialization
// ---------------------------------------------------------------------------

class SpecializationModes : public CpuStrategies, public ::testing::WithParamInterface<KS> {};

TEST_P(SpecializationModes, DecoderAndMlpMatchTheFloat64Reference) {
  const KS mode = GetParam();
  auto decoder = build(build_decoder(small_decoder()));
  apply_settings(*decoder, mode);
  std::map<std::string, reference::RefTensor> ref_states;
  int64_t pos = 0;
  for (const Tensor& tokens : token_stream(97, 4)) {
    const std::map<std::string, Tensor> inputs = {{"tokens", tokens},
                                                  {"pos", testing::position_tensor(pos)}};
    const auto out = decoder->run(inputs);
    const auto expected = testing::reference_outputs(decoder->graph(), inputs, ref_states);
    EXPECT_LE(reference::closeness(out.at("logits"), expected.at("logits"), 1e-4, 1e-4), 1.0)
        << "pos " << pos;
    pos += tokens.shape()[1];
  }

  auto mlp = build(build_mlp(small_mlp()));
  apply_settings(*mlp, mode);
  for (int64_t batch : {1, 7, 32, 7}) {
    const Tensor x = Tensor::random(DType::f32, {batch, 48}, 100 + batch);
    const auto expected = testing::reference_outputs(mlp->graph(), {{"x", x}});
    EXPECT_LE(reference::closeness(mlp->run({{"x", x}}).at("y"), expected.at("y"), 1e-4, 1e-4), 1.0)
        << "batch " << batch;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, SpecializationModes,
                         ::testing::Values(KS::lazy, KS::eager, KS::none),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_F(CpuStrategies, EagerRunsSpecializedKernelsFromTheFirstCall) {
  auto model = build(build_decoder(small_decoder()));
  apply_settings(*model, KS::eager);
  model->run({{"tokens", token_stream(97, 0)[0]}, {"pos", testing::position_tensor(0)}});
  const Counters c = counters(*model);
  EXPECT_EQ(c.at("generic_kernel_runs"), 0u);
  EXPECT_GT(c.at("specialized_kernel_runs"), 0u);
  EXPECT_EQ(c.at("specialized_ready"), 1u);
  EXPECT_GT(c.at("tuning_runs"), 0u) << "no cache: every choice was measured";
  EXPECT_TRUE(any_variant_counter(c)) << "the chosen kernels show in the stats";
}

TEST_F(CpuStrategies, NoneNeverSpecializes) {
  auto model = build(build_mlp(small_mlp()));
  apply_settings(*model, KS::none);
  for (int i = 0; i < 5; ++i) model->run({{"x", Tensor::random(DType::f32, {8, 48}, i)}});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  model->run({{"x", Tensor::random(DType::f32, {8, 48}, 9)}});
  const Counters c = counters(*model);
  EXPECT_EQ(c.at("specialized_kernel_runs"), 0u);
  EXPECT_GT(c.at("generic_kernel_runs"), 0u);
  EXPECT_EQ(c.at("specialized_ready"), 0u);
  EXPECT_EQ(c.at("tuning_runs"), 0u);
  EXPECT_FALSE(any_variant_counter(c));
}

// Polls executes until the background tuning lands, with a generous
// deadline (sanitizer builds are slow).
bool run_until_specialized(Model& model, const std::map<std::string, Tensor>& inputs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    model.run(inputs);
    if (counter(model, "specialized_kernel_runs") > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

TEST_F(CpuStrategies, LazyRunsGenericKernelsFirstThenSwitches) {
  auto model = build(build_mlp(small_mlp()));
  apply_settings(*model, KS::lazy);
  const Tensor x = Tensor::random(DType::f32, {16, 48}, 5);
  const auto expected = testing::reference_outputs(model->graph(), {{"x", x}});

  EXPECT_LE(reference::closeness(model->run({{"x", x}}).at("y"), expected.at("y"), 1e-4, 1e-4),
            1.0);
  EXPECT_GT(counter(*model, "generic_kernel_runs"), 0u) << "the first execute never waits";
  ASSERT_TRUE(run_until_specialized(*model, {{"x", x}}));
  const Counters c = counters(*model);
  EXPECT_EQ(c.at("specialized_ready"), 1u);
  EXPECT_GT(c.at("tuning_runs"), 0u);
  EXPECT_TRUE(any_variant_counter(c));
  EXPECT_LE(reference::closeness(model->run({{"x", x}}).at("y"), expected.at("y"), 1e-4, 1e-4),
            1.0);
}

TEST_F(CpuStrategies, LazyUnderCaptureReRecordsWithTheSpecializedKernels) {
  auto model = build(build_mlp(small_mlp()));
  auto planned = build(build_mlp(small_mlp()));
  apply_settings(*model, KS::lazy);
  apply_settings(*planned, KS::none);
  auto capture = graph_capture(*model);
  const Tensor x = Tensor::random(DType::f32, {16, 48}, 6);
  const Tensor want = planned->run({{"x", x}}).at("y");
  EXPECT_LE(closeness(model->run({{"x", x}}).at("y"), want, 1e-5), 1.0);
  ASSERT_TRUE(run_until_specialized(*model, {{"x", x}}));
  EXPECT_EQ(counter(*model, "records"), 2u) << "generic recording, then the specialized one";
  for (int i = 0; i < 3; ++i) EXPECT_LE(closeness(model->run({{"x", x}}).at("y"), want, 1e-4), 1.0);
  EXPECT_EQ(counter(*model, "records"), 2u);
  EXPECT_GE(counter(*model, "replays"), 3u);
}

TEST_F(CpuStrategies, DestroyingALazyContextWhileItTunesIsSafe) {
  // Contexts dropped right after their first execute: the background thread
  // is cancelled and joined, never touching a freed context.
  for (int i = 0; i < 5; ++i) {
    auto model = build(build_decoder(small_decoder()));
    apply_settings(*model, KS::lazy);
    model->run({{"tokens", token_stream(97, 0)[0]}, {"pos", testing::position_tensor(0)}});
    apply_settings(*model, KS::none);  // drops the lazy context
  }
}

// ---------------------------------------------------------------------------
// Tuning results in the runtime cache
// ---------------------------------------------------------------------------

TEST_F(CpuStrategies, WarmTuningCacheMeasuresNothing) {
  auto cache = std::make_shared<RuntimeCache>();
  const Graph graph = build_decoder(small_decoder());
  const std::map<std::string, Tensor> inputs = {{"tokens", token_stream(97, 0)[0]},
                                                {"pos", testing::position_tensor(0)}};
  auto cold = build(graph);
  apply_settings(*cold, KS::eager, cache);
  const Tensor cold_logits = cold->run(inputs).at("logits");
  EXPECT_GT(counter(*cold, "tuning_runs"), 0u);
  EXPECT_GT(counter(*cold, "tuning_cache_misses"), 0u);
  EXPECT_GT(cache->size(), 0u);

  auto warm = build(graph);
  apply_settings(*warm, KS::eager, cache);
  const Tensor warm_logits = warm->run(inputs).at("logits");
  const Counters c = counters(*warm);
  EXPECT_EQ(c.at("tuning_runs"), 0u);
  EXPECT_GT(c.at("tuning_cache_hits"), 0u);
  EXPECT_EQ(c.at("tuning_cache_rejected"), 0u);
  EXPECT_EQ(c.at("generic_kernel_runs"), 0u);
  EXPECT_LE(closeness(warm_logits, cold_logits, 1e-5), 1.0);
}

// One linear x[4,32]·W[32,16]: its tuning key is known, so tests can
// overwrite the entry. The key format is the plugin's (tuning_record.hpp).
class TuningCacheValidation : public CpuStrategies {
 protected:
  void SetUp() override {
    CpuStrategies::SetUp();
    MlpParams params{.layers = 1, .d_in = 32, .d_out = 16, .seed = 4};
    graph_ = build_mlp(params);
    x_ = Tensor::random(DType::f32, {4, 32}, 8);
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    key_ = {"cpu", plugin_->devices().at(0).fingerprint,
            "tune.v4/linear/[4,32][32,16]/t" + std::to_string(threads)};
  }

  // Runs a fresh model on `cache_` (eager) and returns its counters.
  Counters run_fresh(Tensor* y = nullptr) {
    auto model = build(graph_);
    apply_settings(*model, KS::eager, cache_);
    const Tensor out = model->run({{"x", x_}}).at("y");
    if (y) *y = out;
    return counters(*model);
  }

  Graph graph_;
  Tensor x_;
  CacheKey key_;
  std::shared_ptr<RuntimeCache> cache_ = std::make_shared<RuntimeCache>();
};

TEST_F(TuningCacheValidation, CorruptEntriesAreMissesAndGetReTuned) {
  Tensor reference_y;
  const Counters cold = run_fresh(&reference_y);
  ASSERT_GT(cold.at("tuning_runs"), 0u);
  const auto valid = cache_->get(key_);
  ASSERT_TRUE(valid.has_value()) << "the entry is stored under the documented key";

  std::vector<std::vector<uint8_t>> corruptions;
  corruptions.push_back({'g', 'a', 'r', 'b', 'a', 'g', 'e'});
  corruptions.push_back({});
  corruptions.push_back(std::vector<uint8_t>(valid->begin(), valid->end() - 3));  // truncated
  std::vector<uint8_t> flipped = *valid;
  flipped[flipped.size() / 2] ^= 0x40;  // checksum no longer matches
  corruptions.push_back(flipped);
  std::vector<uint8_t> longer = *valid;
  longer.push_back(0);
  corruptions.push_back(longer);
  std::vector<uint8_t> other_version = *valid;
  other_version[4] ^= 0x7;
  corruptions.push_back(other_version);

  for (size_t i = 0; i < corruptions.size(); ++i) {
    cache_->put(key_, corruptions[i].data(), corruptions[i].size());
    Tensor y;
    const Counters c = run_fresh(&y);
    EXPECT_EQ(c.at("tuning_cache_rejected"), 1u) << "corruption " << i;
    EXPECT_EQ(c.at("tuning_cache_hits"), 0u) << "corruption " << i;
    EXPECT_GT(c.at("tuning_runs"), 0u) << "corruption " << i << " must be re-tuned";
    EXPECT_LE(closeness(y, reference_y, 1e-5), 1.0);
    // Re-tuning stored a valid entry again: the next start is warm.
    const Counters again = run_fresh();
    EXPECT_EQ(again.at("tuning_runs"), 0u) << "corruption " << i;
    EXPECT_EQ(again.at("tuning_cache_hits"), 1u) << "corruption " << i;
  }
}

}  // namespace
}  // namespace rtscope
