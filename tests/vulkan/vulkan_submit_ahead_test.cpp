// Whole-graph replays submitted one execute ahead (submit_ahead.hpp,
// RTSCOPE_VULKAN_SUBMIT_AHEAD): the built-in decoder, captured, decodes the
// same tokens as without, the float64 reference checked on the run
// without; a replay held between two executes runs when its execute comes;
// executes of two models on one device, interleaved, cancel each other's
// holds without losing a step, and each context stops holding after
// SubmitAhead::kMaxCancelledInARow cancelled holds in a row.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rtscope/device_memory.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/batched_stream_check.hpp"
#include "support/env_guard.hpp"
#include "support/small_models.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::BatchedStreams;
using testing::run_batched_streams;

constexpr uint64_t kMaxCancelledInARow = 3;  // SubmitAhead's

struct AheadRun {
  std::vector<std::vector<int64_t>> tokens;
  uint64_t executes = 0;
  uint64_t submitted_ahead = 0;
  uint64_t cancelled = 0;
};

// The decoder with eager specialization and whole-graph capture, its
// scopes closed before the model goes.
struct CapturedDecoder {
  std::unique_ptr<Model> model;
  std::optional<RuntimeConfigScope> config;
  std::optional<RuntimeConfigScope> capture;
  CapturedDecoder(PluginRegistry& registry, int64_t batch) {
    DecoderParams params = testing::small_decoder_params(DType::f16);
    params.batch = batch;
    model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
    config.emplace(runtime_config(*model, {{"kernel_specialization", "eager"}}));
    capture.emplace(graph_capture(*model));
  }
  ~CapturedDecoder() {
    capture.reset();
    config.reset();
  }
  CapturedDecoder(const CapturedDecoder&) = delete;
  CapturedDecoder& operator=(const CapturedDecoder&) = delete;
};

AheadRun counters_of(const Model& model) {
  const Module& module = *model.modules()[0];
  AheadRun run;
  run.executes = counter(module, "executes");
  run.submitted_ahead = counter(module, "replays_submitted_ahead");
  run.cancelled = counter(module, "replays_ahead_cancelled");
  return run;
}

// A prompt and `steps` decode steps of `batch` streams with
// RTSCOPE_VULKAN_SUBMIT_AHEAD=`ahead`; compared with the float64 reference
// after each step when `tol` > 0 (which reads the caches back, and so
// cancels every hold).
AheadRun run_streams(const char* ahead, int64_t batch, int64_t steps, double tol) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_SUBMIT_AHEAD", ahead);
  PluginRegistry registry;
  const LoadResult load = load_vulkan(registry);
  if (!load.skip_reason.empty() || !load.failure.empty()) {
    ADD_FAILURE() << "loading the vulkan plugin failed: " << load.failure << load.skip_reason;
    return {};
  }
  CapturedDecoder decoder(registry, batch);
  Model& model = *decoder.model;
  DecoderParams params = testing::small_decoder_params(DType::f16);
  params.batch = batch;
  const BatchedStreams streams{.batch = batch, .prompt = 2, .steps = steps};
  std::vector<std::vector<int64_t>> tokens =
      run_batched_streams(model, params, streams, 0, batch, tol);
  AheadRun run = counters_of(model);
  run.tokens = std::move(tokens);
  expect_no_validation_errors(model);
  return run;
}

TEST(VulkanSubmitAhead, HeldReplaysRunWhenTheirExecuteComesAndDecodeTheSameTokens) {
  {
    PluginRegistry probe;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(probe);
  }
  constexpr int64_t kSteps = 6;
  for (const int64_t batch : {int64_t{1}, int64_t{3}}) {
    SCOPED_TRACE(::testing::Message() << "batch " << batch);
    const AheadRun off = run_streams("0", batch, kSteps, 3e-2);
    const AheadRun on = run_streams("1", batch, kSteps, 0);
    EXPECT_EQ(off.submitted_ahead, 0u);
    EXPECT_EQ(off.cancelled, 0u);
    EXPECT_EQ(on.tokens, off.tokens) << "held or not, every stream decodes the same tokens";
    ASSERT_EQ(on.executes, off.executes);
    // The prompt's plan holds a replay the first decode step cancels (other
    // shapes); every later decode step runs the replay held for it.
    EXPECT_EQ(on.cancelled, 1u);
    EXPECT_EQ(on.submitted_ahead, static_cast<uint64_t>(kSteps - 1));
  }
}

// Two models on one device, stepped in turn: each execute's submit cancels
// the other context's held replay, which then passes as a no-op; each
// context gives up holding after kMaxCancelledInARow, and both decode the
// tokens a lone run without holds decodes.
TEST(VulkanSubmitAhead, InterleavedContextsCancelEachOthersHoldsAndLoseNothing) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_SUBMIT_AHEAD", "1");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  constexpr int64_t kSteps = 7;
  const AheadRun alone = run_streams("0", 1, kSteps, 3e-2);
  CapturedDecoder first(registry, 1);
  CapturedDecoder second(registry, 1);
  const DecoderParams params = testing::small_decoder_params(DType::f16);
  const BatchedStreams streams{.batch = 1, .prompt = 2, .steps = kSteps};
  Tensor tokens[2] = {streams.prompt_of(0, 1, params.vocab), streams.prompt_of(0, 1, params.vocab)};
  int64_t position = 0;
  std::vector<std::vector<int64_t>> generated[2];
  for (int64_t step = 0; step <= kSteps; ++step) {
    for (int m = 0; m < 2; ++m) {
      Model& model = m == 0 ? *first.model : *second.model;
      const auto out =
          model.run({{"tokens", tokens[m]}, {"pos", testing::positions_tensor({position})}});
      tokens[m] = testing::last_column(out.at("next_token"));
      generated[m].push_back({tokens[m].data_as<int64_t>()[0]});
    }
    position += step == 0 ? streams.prompt : 1;
  }
  EXPECT_EQ(generated[0], alone.tokens);
  EXPECT_EQ(generated[1], alone.tokens);
  for (const Model* model : {first.model.get(), second.model.get()}) {
    const AheadRun run = counters_of(*model);
    EXPECT_EQ(run.submitted_ahead, 0u) << "no hold survives the other model's execute";
    EXPECT_EQ(run.cancelled, kMaxCancelledInARow) << "then the context stops holding";
    expect_no_validation_errors(*model);
  }
}

// A replay held on the queue is bound to the device memory of the execute
// before it. Freeing that memory lets the held replay pass as a no-op
// first (Device::retire_held): the next execute, into new memory of the
// same size (the allocator's first fit: the same range, so the same plan),
// runs its replay afresh instead of releasing the held one, and computes
// the right sum. Nothing is read back until the end: a device_copy
// cancels holds too.
TEST(VulkanSubmitAhead, FreeingBoundDeviceMemoryRetiresTheHeldReplay) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_SUBMIT_AHEAD", "1");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  auto model = Model::build(testing::GraphBuilder("ahead_add")
                                .input("a", DType::f32, {4, 8})
                                .input("b", DType::f32, {4, 8})
                                .node("sum", "add", {"a", "b"}, "y")
                                .outputs({"y"})
                                .build(),
                            registry, {.backends = {"vulkan"}});
  RuntimeConfigScope config = runtime_config(*model, {{"kernel_specialization", "eager"}});
  RuntimeConfigScope capture = graph_capture(*model);
  const std::shared_ptr<const DeviceMemory> memory = model->output_device(0);
  ASSERT_TRUE(memory);
  const Tensor a = Tensor::random(DType::f32, {4, 8}, 41);
  const Tensor b = Tensor::random(DType::f32, {4, 8}, 42);
  const Module& module = *model->modules()[0];
  {
    std::vector<Tensor> outputs{Tensor::empty_on(memory, DType::f32, {4, 8})};
    model->run_into(std::vector<Tensor>{a, b}, outputs);
    model->run_into(std::vector<Tensor>{a, b}, outputs);
    ASSERT_EQ(counter(module, "replays_submitted_ahead"), 1u);
  }  // the slot is freed with the third replay held, bound to it
  std::vector<Tensor> outputs{Tensor::empty_on(memory, DType::f32, {4, 8})};
  model->run_into(std::vector<Tensor>{a, b}, outputs);
  EXPECT_EQ(counter(module, "replays_submitted_ahead"), 1u)
      << "the replay held for the freed slot was released";
  EXPECT_EQ(counter(module, "replays_ahead_cancelled"), 1u);
  const Tensor y = outputs[0].to_host();
  for (int64_t i = 0; i < 32; ++i) {
    const double sum = double(a.data_as<float>()[i]) + double(b.data_as<float>()[i]);
    EXPECT_NEAR(y.data_as<float>()[i], sum, 1e-6) << "element " << i;
  }
  expect_no_validation_errors(*model);
}

TEST(VulkanSubmitAhead, ThePluginRejectsAnUnknownChoice) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_SUBMIT_AHEAD", "later");
  PluginRegistry registry;
  const LoadResult load = load_vulkan(registry);
  if (!load.skip_reason.empty()) GTEST_SKIP() << load.skip_reason;
  EXPECT_NE(load.failure.find("RTSCOPE_VULKAN_SUBMIT_AHEAD='later'"), std::string::npos)
      << load.failure;
  EXPECT_NE(load.failure.find("1 (on), 0 (off), auto"), std::string::npos) << load.failure;
}

}  // namespace
}  // namespace rtscope::vulkan_testing
