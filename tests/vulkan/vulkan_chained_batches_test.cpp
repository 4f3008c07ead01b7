// Chained batches (shaders/chain.glsl): with RTSCOPE_VULKAN_CHAIN=1 a
// decode step's batches of projections and split attention run without a
// barrier between them, each waiting on a counter the batch before counts
// its workgroups in. lavapipe runs one dispatch after another, so there
// the waits find their counts reached; a count above what the batch before
// adds would give up and fail the execute. These tests check which
// barriers go, that a chained stream matches the float64 reference, and
// that it gives the unchained stream's bits; the GPU runs them too.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"
#include "support/env_guard.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::position_tensor;

// The plugin loaded with chaining forced on, and again forced off (the
// variable is read when the plugin loads).
class VulkanChainedBatches : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      const testing::EnvGuard chain("RTSCOPE_VULKAN_CHAIN", "1");
      RTSCOPE_LOAD_VULKAN_OR_SKIP(chained_);
    }
    const testing::EnvGuard chain("RTSCOPE_VULKAN_CHAIN", "0");
    RTSCOPE_LOAD_VULKAN_OR_SKIP(unchained_);
  }
  std::unique_ptr<Model> build(PluginRegistry& registry, const DecoderParams& params) {
    return Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  }
  PluginRegistry chained_;
  PluginRegistry unchained_;
};

TEST_F(VulkanChainedBatches, ChainedStreamMatchesTheReference) {
  const DecoderParams params = testing::small_decoder_params(DType::f16);
  auto model = build(chained_, params);
  testing::expect_stream_matches_reference(*model, params);
  const Module& module = *model->modules()[0];
  // A decode step's five batches per layer (q/k/v, attention, output
  // projection, gated SwiGLU, down projection) follow each other without
  // a barrier, but for the first after the embedding.
  EXPECT_GE(counter(module, "chained_batches"), 4u * (5u * params.layers - 1)) << "4 decode steps";
  expect_no_validation_errors(*model);
}

TEST_F(VulkanChainedBatches, ChainedStepsGiveTheUnchainedBits) {
  for (const DType dtype : {DType::f16, DType::f32}) {
    const DecoderParams params = testing::small_decoder_params(dtype);
    auto chained = build(chained_, params);
    auto unchained = build(unchained_, params);
    Tensor tokens = Tensor::random(DType::i64, {1, 5}, 78, double(params.vocab - 1));
    int64_t pos = 0;
    for (int step = 0; step < 4; ++step) {
      const std::map<std::string, Tensor> inputs = {{"tokens", tokens},
                                                    {"pos", position_tensor(pos)}};
      const auto a = chained->run(inputs);
      const auto b = unchained->run(inputs);
      EXPECT_EQ(a.at("logits").to_doubles(), b.at("logits").to_doubles())
          << to_string(dtype) << " step " << step;
      pos += tokens.shape()[1];
      tokens = Tensor::empty(DType::i64, {1, 1});
      tokens.data_as<int64_t>()[0] = (step * 37 + 11) % params.vocab;
    }
    const Module& with = *chained->modules()[0];
    const Module& without = *unchained->modules()[0];
    EXPECT_GT(counter(with, "chained_batches"), 0u);
    EXPECT_EQ(counter(without, "chained_batches"), 0u);
    // The same plans: every barrier left out is one chain.
    EXPECT_EQ(counter(with, "barriers") + counter(with, "chained_batches"),
              counter(without, "barriers"));
    EXPECT_EQ(counter(with, "dispatches"), counter(without, "dispatches"));
    expect_no_validation_errors(*chained);
  }
}

}  // namespace
}  // namespace rtscope::vulkan_testing
