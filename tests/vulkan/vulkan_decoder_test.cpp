// The built-in decoder on the Vulkan plugin against the float64 reference:
// a 5-token prompt, then decode steps fed back one token at a time through
// the KV caches, as tests/conformance/model_conformance_test.cpp does on
// the CPU.
#include <gtest/gtest.h>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::position_tensor;

using VulkanDecoder = VulkanCaseTest<DType>;

TEST_P(VulkanDecoder, StreamMatchesReferenceStepByStep) {
  const DType dtype = GetParam();
  const DecoderParams params = testing::small_decoder_params(dtype);
  auto model = build(build_decoder(params));
  ASSERT_EQ(model->modules().size(), 1u) << "every decoder op runs on the Vulkan plugin";
  const Module& module = *model->modules()[0];
  testing::expect_stream_matches_reference(*model, params);
  EXPECT_EQ(counter(module, "executes"), 5u);
  EXPECT_EQ(counter(module, "submits"), 5u) << "one submit per execute";
  // Every submit is timed on the device (lavapipe and NVIDIA both have
  // timestamps on their compute queues).
  EXPECT_EQ(counter(module, "gpu_timed_executes"), 5u);
  EXPECT_GT(counter(module, "gpu_time_ns"), 0u);
  EXPECT_EQ(counter(module, "plans_built"), 2u) << "one plan for the prompt, one for decode steps";
  // Each layer's two cache updates run in place on the device.
  EXPECT_EQ(counter(module, "in_place_updates"), 5u * 2 * params.layers);
  EXPECT_LT(counter(module, "barriers"), counter(module, "dispatches") + 5u * 2)
      << "independent dispatches (q/k/v projections, gate/up) share barriers";
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, VulkanDecoder, ::testing::Values(DType::f32, DType::f16),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// A position past the cache is rejected before anything is submitted, with
// the node named, as on the CPU.
using VulkanDecoderErrors = VulkanTest;

TEST_F(VulkanDecoderErrors, PositionBeyondTheCacheFails) {
  const DecoderParams params = testing::small_decoder_params(DType::f32);
  auto model = build(build_decoder(params));
  Tensor tokens = Tensor::random(DType::i64, {1, 4}, 3, double(params.vocab - 1));
  try {
    model->run({{"tokens", tokens}, {"pos", position_tensor(params.max_seq - 2)}});
    FAIL() << "expected an error for pos + 4 > max_seq";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("exceeds cache length"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(counter(*model->modules()[0], "submits"), 0u);
  expect_no_validation_errors(*model);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
