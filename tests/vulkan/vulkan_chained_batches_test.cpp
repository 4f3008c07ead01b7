// Chained batches (CommandList::enable_chaining, shaders/chain.glsl): the
// built-in decoder with RTSCOPE_VULKAN_CHAIN=1 and =0, one stream (matvec_t
// one column per subgroup) and three (its split-K path), captured, against
// the float64 reference step by step. Chained, each layer's split
// attention waits for a counter of its q, k and v projections where the
// unchained plan places a barrier, and each stream's tokens are the
// unchained run's.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/batched_stream_check.hpp"
#include "support/env_guard.hpp"
#include "support/small_models.hpp"
#include "vulkan/matvec_t_probe.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::BatchedStreams;
using testing::run_batched_streams;

struct ChainedRun {
  std::vector<std::vector<int64_t>> tokens;
  uint64_t barriers = 0;
  uint64_t chained_waits = 0;
  uint64_t executes = 0;
  bool runs_matvec_t = false;
};

// One captured run of `batch` f16 streams with RTSCOPE_VULKAN_CHAIN=`chain`
// (read when the plugin loads), checked against the reference.
ChainedRun run_with_chain(const char* chain, int64_t batch) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_CHAIN", chain);
  PluginRegistry registry;
  ChainedRun run;
  const LoadResult load = load_vulkan(registry);
  if (!load.skip_reason.empty() || !load.failure.empty()) {
    ADD_FAILURE() << "loading the vulkan plugin failed: " << load.failure << load.skip_reason;
    return run;
  }
  DecoderParams params = testing::small_decoder_params(DType::f16);
  params.batch = batch;
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  auto settings = runtime_config(*model, {{"kernel_specialization", "eager"}});
  RuntimeConfigScope capture = graph_capture(*model);
  const BatchedStreams streams{.batch = batch, .prompt = 1, .steps = 4};
  run.tokens = run_batched_streams(*model, params, streams, 0, batch, 3e-2);
  const Module& module = *model->modules()[0];
  run.barriers = counter(module, "barriers");
  run.chained_waits = counter(module, "chained_waits");
  run.executes = counter(module, "executes");
  run.runs_matvec_t = device_runs_matvec_t(registry);
  expect_no_validation_errors(*model);
  return run;
}

TEST(VulkanChainedBatches, DecodeStepsWaitForCountersAndMatchTheUnchainedTokens) {
  {
    PluginRegistry probe;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(probe);
  }
  for (const int64_t batch : {int64_t{1}, int64_t{3}}) {
    SCOPED_TRACE(::testing::Message() << "batch " << batch);
    const ChainedRun off = run_with_chain("0", batch);
    const ChainedRun on = run_with_chain("1", batch);
    EXPECT_EQ(off.chained_waits, 0u) << "RTSCOPE_VULKAN_CHAIN=0 places barriers only";
    EXPECT_EQ(on.tokens, off.tokens) << "chained or not, every stream decodes the same tokens";
    ASSERT_EQ(on.executes, off.executes);
    if (!on.runs_matvec_t) continue;  // no matvec_t, nothing chains
    // Each layer's split attention waits for a counter of its q, k and v
    // projections instead of a barrier; every other barrier stays.
    const uint64_t layers = testing::small_decoder_params(DType::f16).layers;
    EXPECT_EQ(on.chained_waits, on.executes * layers);
    EXPECT_EQ(on.barriers + on.chained_waits, off.barriers)
        << "a counter replaces a barrier, and nothing else changes";
  }
}

// With the attention's combine in a pass of its own
// (RTSCOPE_VULKAN_FUSE_ATTENTION_COMBINE=0), the partial pass waits for the
// projections and the combine pass for the partial pass: two counters a
// layer, and the same tokens.
TEST(VulkanChainedBatches, TheCombinePassWaitsForThePartialPass) {
  {
    PluginRegistry probe;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(probe);
  }
  const testing::EnvGuard combine("RTSCOPE_VULKAN_FUSE_ATTENTION_COMBINE", "0");
  const ChainedRun off = run_with_chain("0", 1);
  const ChainedRun on = run_with_chain("1", 1);
  EXPECT_EQ(on.tokens, off.tokens);
  ASSERT_EQ(on.executes, off.executes);
  if (!on.runs_matvec_t) GTEST_SKIP() << "skipping: no matvec_t on this device, nothing chains";
  const uint64_t layers = testing::small_decoder_params(DType::f16).layers;
  EXPECT_EQ(on.chained_waits, on.executes * layers * 2);
  EXPECT_EQ(on.barriers + on.chained_waits, off.barriers);
}

// A wait that gives up (here every wait, for one workgroup more than its
// batch has: RTSCOPE_VULKAN_DIAG_CHAIN_STALL) sets the stall word, and the
// execute fails with an error that names the switch, instead of handing
// on the attention's results. (The bound is two nested loops: lavapipe
// ends a single loop after 65535 iterations, which had let every wait go
// on with nothing flagged.)
TEST(VulkanChainedBatches, AWaitThatGivesUpFailsTheExecute) {
  const testing::EnvGuard chain("RTSCOPE_VULKAN_CHAIN", "1");
  const testing::EnvGuard stall("RTSCOPE_VULKAN_DIAG_CHAIN_STALL", "1");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  if (!device_runs_matvec_t(registry)) {
    GTEST_SKIP() << "skipping: this Vulkan device has no subgroup arithmetic, so nothing chains";
  }
  const DecoderParams params = testing::small_decoder_params(DType::f16);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  const Tensor tokens = Tensor::random(DType::i64, {1, 1}, 3, double(params.vocab - 1));
  try {
    model->run({{"tokens", tokens}, {"pos", testing::position_tensor(0)}});
    FAIL() << "expected the stalled wait to fail the execute";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("waited past its bound"), std::string::npos) << message;
    EXPECT_NE(message.find("RTSCOPE_VULKAN_CHAIN=0"), std::string::npos) << message;
  }
}

// The variable is read when the plugin loads; a value that is not a choice
// fails the load, naming it and the choices.
TEST(VulkanChainedBatches, ThePluginRejectsAnUnknownChoice) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_CHAIN", "sometimes");
  PluginRegistry registry;
  const LoadResult load = load_vulkan(registry);
  if (!load.skip_reason.empty()) GTEST_SKIP() << load.skip_reason;
  EXPECT_NE(load.failure.find("RTSCOPE_VULKAN_CHAIN='sometimes'"), std::string::npos)
      << load.failure;
  EXPECT_NE(load.failure.find("1 (on), 0 (off), auto"), std::string::npos) << load.failure;
}

}  // namespace
}  // namespace rtscope::vulkan_testing
