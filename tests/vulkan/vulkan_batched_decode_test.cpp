// Batched decode on the Vulkan plugin: B streams of the built-in decoder in
// one model, each with its own prompt and position (pos [B]), against the
// float64 reference step by step, eager and under whole-graph capture, for
// B = 1, 3 and 8 (odd sizes included); the projections of a step stay fused
// (rope, gated SwiGLU, rmsnorm, residual) on matvec_t, which reads each
// weight once for all rows; each stream's tokens equal the stream decoded
// alone.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/batched_stream_check.hpp"
#include "support/env_guard.hpp"
#include "support/small_models.hpp"
#include "vulkan/f16_products_probe.hpp"
#include "vulkan/matvec_t_probe.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::BatchedStreams;
using testing::run_batched_streams;

struct BatchCase {
  int64_t batch;
  DType dtype;
  bool captured;
  // eager: matvec_t specialized to M = B rows, one block for all of them;
  // none: the generic pipeline, blocks of 4 rows.
  const char* specialization;
  // Prompt tokens per stream: 1 makes the prompt the step's shape, so
  // lavapipe compiles one specialized set of pipelines, not two.
  int64_t prompt = 4;
};

std::string case_name(const ::testing::TestParamInfo<BatchCase>& info) {
  return "batch" + std::to_string(info.param.batch) + "_" +
         std::string(to_string(info.param.dtype)) + (info.param.captured ? "_captured_" : "_") +
         info.param.specialization;
}

DecoderParams batched(int64_t batch, DType dtype) {
  DecoderParams params = testing::small_decoder_params(dtype);
  params.batch = batch;
  return params;
}

class VulkanBatchedDecode : public ::testing::TestWithParam<BatchCase> {};

TEST_P(VulkanBatchedDecode, EachStreamAtItsOwnPositionMatchesTheReference) {
  const BatchCase c = GetParam();
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const DecoderParams params = batched(c.batch, c.dtype);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  ASSERT_EQ(model->modules().size(), 1u) << "every decoder op runs on the Vulkan plugin";
  auto settings = runtime_config(*model, {{"kernel_specialization", c.specialization}});
  std::optional<RuntimeConfigScope> capture;
  if (c.captured) capture.emplace(graph_capture(*model));
  const BatchedStreams streams{.batch = c.batch, .prompt = c.prompt, .steps = 4};
  run_batched_streams(*model, params, streams, 0, c.batch, c.dtype == DType::f16 ? 3e-2 : 1e-4);
  const Module& module = *model->modules()[0];
  if (c.captured) {
    // One recording per shape: the prompt's and the steps' (one with a
    // one-token prompt); every other run replays.
    const uint64_t records = c.prompt == 1 ? 1 : 2;
    EXPECT_EQ(counter(module, "records"), records);
    EXPECT_EQ(counter(module, "replays"), streams.steps + 1 - records);
  }
  if (device_runs_matvec_t(registry)) {
    // q and k of every layer keep their rope fused, and the SwiGLU its
    // gated product, at any batch (matvec_t takes up to 64 rows).
    const uint64_t runs = streams.steps + 1;
    EXPECT_EQ(counter(module, "fused_ropes"), runs * 2 * params.layers);
    EXPECT_EQ(counter(module, "fused_gated_products"), runs * params.layers);
    // k and v of every layer write their cache rows themselves on each
    // one-token step (a longer prompt's transpose to heads is a copy).
    const uint64_t one_token_runs = c.prompt == 1 ? runs : streams.steps;
    EXPECT_EQ(counter(module, "fused_cache_writes"), one_token_runs * 2 * params.layers);
  }
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(Batches, VulkanBatchedDecode,
                         ::testing::Values(BatchCase{1, DType::f32, false, "eager"},
                                           BatchCase{3, DType::f32, false, "none"},
                                           BatchCase{8, DType::f32, false, "none"},
                                           BatchCase{3, DType::f16, false, "eager", 1},
                                           BatchCase{8, DType::f16, true, "eager", 1},
                                           BatchCase{3, DType::f32, true, "none"}),
                         case_name);

// matvec_t runs at most DeviceCaps::matvec_groups workgroups, which loop
// over the rest of their task groups. At 3 workgroups every projection of
// the f16 decoder loops, on both paths (one stream: a column per subgroup;
// three: split K) and with every fusion (rmsnorm, rope with the cache
// write, gated SwiGLU, residual, the argmax counted in once per
// workgroup), and still matches the reference, eager and captured.
TEST(VulkanBatchedDecodeStreams, ProjectionsWhoseWorkgroupsLoopMatchTheReference) {
  const testing::EnvGuard groups("RTSCOPE_VULKAN_MATVEC_GROUPS", "3");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  for (const int64_t batch : {int64_t{1}, int64_t{3}}) {
    SCOPED_TRACE(::testing::Message() << "batch " << batch);
    const DecoderParams params = batched(batch, DType::f16);
    auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
    auto settings = runtime_config(*model, {{"kernel_specialization", "eager"}});
    RuntimeConfigScope capture = graph_capture(*model);
    const BatchedStreams streams{.batch = batch, .prompt = 1, .steps = 3};
    run_batched_streams(*model, params, streams, 0, batch, 3e-2);
    if (device_runs_matvec_t(registry)) {
      EXPECT_EQ(counter(*model->modules()[0], "fused_argmaxes"), streams.steps + 1);
    }
    expect_no_validation_errors(*model);
  }
}

// The captured f16 decode of 8 streams (pipelines specialized to the rows,
// one-token prompts, 4 executes) checked against the reference step by
// step, with no validation error; its counter `name`, read while the
// settings still hold (leaving them starts new contexts).
uint64_t check_eight_captured_f16_streams(PluginRegistry& registry,
                                          const char* name = "f16_math_products") {
  const DecoderParams params = batched(8, DType::f16);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  auto settings = runtime_config(*model, {{"kernel_specialization", "eager"}});
  RuntimeConfigScope capture = graph_capture(*model);
  const BatchedStreams streams{.batch = 8, .prompt = 1, .steps = 3};
  run_batched_streams(*model, params, streams, 0, 8, 3e-2);
  expect_no_validation_errors(*model);
  return counter(*model->modules()[0], name);
}

// With f16 products (RTSCOPE_VULKAN_F16_PRODUCTS=1) the captured f16
// decode of 8 streams runs its projections on matvec_t_f16math and every
// stream still matches the reference.
TEST(VulkanBatchedDecodeStreams, F16ProductsMatchTheReference) {
  PluginRegistry registry;
  bool f16_products = false;
  RTSCOPE_LOAD_VULKAN_WITH_F16_PRODUCTS(registry, f16_products);
  const uint64_t products = check_eight_captured_f16_streams(registry);
  if (f16_products && device_runs_matvec_t(registry)) {
    EXPECT_GT(products, 0u);
  } else {
    EXPECT_EQ(products, 0u);
  }
}

// Split-K teams of one subgroup that sync alone
// (RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS=1): with 2 weight rows per workgroup
// the gate/up and rope projections take such teams on 8-lane subgroups
// too, and the captured f16 decode of 8 streams still matches.
TEST(VulkanBatchedDecodeStreams, SoloTeamsMatchTheReference) {
  const testing::EnvGuard solo("RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS", "1");
  const testing::EnvGuard split("RTSCOPE_VULKAN_MATVEC_SPLIT", "2");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  check_eight_captured_f16_streams(registry);
}

// With a bound no product reaches (RTSCOPE_VULKAN_MATVEC_MIN_GROUPS=65535)
// every split-K product alone in its batch takes larger teams: per layer
// the output, gate/up and down projections, and the lm head; the q, k and
// v projections, which share theirs, never do. The captured f16 decode of
// 8 streams still matches the reference.
TEST(VulkanBatchedDecodeStreams, ProductsAloneInTheirBatchSpread) {
  const testing::EnvGuard min_groups("RTSCOPE_VULKAN_MATVEC_MIN_GROUPS", "65535");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const uint64_t spread = check_eight_captured_f16_streams(registry, "spread_products");
  if (!device_runs_matvec_t(registry)) {
    EXPECT_EQ(spread, 0u) << "no split-K products without matvec_t";
    return;
  }
  const uint64_t executes = 4;
  EXPECT_EQ(spread, executes * (3 * batched(8, DType::f16).layers + 1));
}

TEST(VulkanBatchedDecodeStreams, EachStreamEqualsTheStreamDecodedAlone) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  constexpr int64_t kBatch = 3;
  auto together =
      Model::build(build_decoder(batched(kBatch, DType::f32)), registry, {.backends = {"vulkan"}});
  // The same kernels in both models (no variants swapped in mid-stream).
  auto together_settings = runtime_config(*together, {{"kernel_specialization", "none"}});
  const BatchedStreams streams{.batch = kBatch, .steps = 5};
  const auto tokens =
      run_batched_streams(*together, batched(kBatch, DType::f32), streams, 0, kBatch, 0);
  std::set<int64_t> first_tokens;
  for (int64_t b = 0; b < kBatch; ++b) {
    auto alone =
        Model::build(build_decoder(batched(1, DType::f32)), registry, {.backends = {"vulkan"}});
    auto alone_settings = runtime_config(*alone, {{"kernel_specialization", "none"}});
    const auto expected = run_batched_streams(*alone, batched(1, DType::f32), streams, b, 1, 0);
    for (std::size_t step = 0; step < tokens.size(); ++step) {
      EXPECT_EQ(tokens[step][b], expected[step][0]) << "stream " << b << ", step " << step;
    }
    first_tokens.insert(tokens[0][b]);
    expect_no_validation_errors(*alone);
  }
  EXPECT_GT(first_tokens.size(), 1u) << "streams with other prompts differ";
  expect_no_validation_errors(*together);
}

// A position that leaves no room for the step is rejected before anything
// is submitted, naming the stream; the kv_update shader skips such a row
// anyway (checked by the op conformance cases' in-range rows).
TEST(VulkanBatchedDecodeStreams, APositionOutsideTheCacheNamesTheStream) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const DecoderParams params = batched(3, DType::f32);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  const BatchedStreams streams{.batch = 3};
  try {
    model->run({{"tokens", streams.prompt_of(0, 3, params.vocab)},
                {"pos", testing::positions_tensor({0, 1, params.max_seq - 1})}});
    FAIL() << "expected an error for pos[2] + 4 > max_seq";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("pos[2] = 31 + 4 steps exceeds cache length 32"),
              std::string::npos)
        << error.what();
  }
  EXPECT_EQ(counter(*model->modules()[0], "submits"), 0u);
  expect_no_validation_errors(*model);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
