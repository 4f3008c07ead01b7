// Hugging Face Llama checkpoints on the Vulkan plugin: a tiny GQA checkpoint
// written at test time, streamed eagerly and under whole-graph capture with
// the KV caches updated in place, against the float64 Llama forward pass.
#include <gtest/gtest.h>

#include "rtscope/llama_checkpoint.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "support/checkpoint_stream_check.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_llama.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

struct Case {
  const char* name;
  const char* stored;  // safetensors dtype
  DType model;
  bool capture;
};

using VulkanCheckpoint = VulkanCaseTest<Case>;

TEST_P(VulkanCheckpoint, StreamMatchesLlamaReference) {
  const Case c = GetParam();
  testing::TempDir dir;
  testing::TinyLlama config;  // 4 heads sharing 2 KV heads
  config.dtype = c.stored;
  config.tied = c.capture;
  const auto tensors = testing::write_tiny_llama(dir.path(), config);
  auto model = build(load_llama_checkpoint(dir.path(), {.dtype = c.model}));
  ASSERT_EQ(model->modules().size(), 1u) << "every op of a checkpoint decoder runs on Vulkan";
  const double tol = c.model == DType::f16 ? 3e-2 : 1e-4;
  if (c.capture) {
    auto capture = graph_capture(*model);
    testing::expect_checkpoint_stream_matches(*model, config, tensors, tol);
    EXPECT_GT(counter(*model->modules()[0], "replays"), 0u) << "decode steps replay";
  } else {
    testing::expect_checkpoint_stream_matches(*model, config, tensors, tol);
    // Each layer's two cache updates ran in place on the device.
    EXPECT_EQ(counter(*model->modules()[0], "in_place_updates"), 6u * 2 * config.layers);
  }
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, VulkanCheckpoint,
                         ::testing::Values(Case{"f32_eager", "F32", DType::f32, false},
                                           Case{"f16_eager", "F16", DType::f16, false},
                                           Case{"bf16_as_f16_captured", "BF16", DType::f16, true},
                                           Case{"bf16_as_f32_captured", "BF16", DType::f32, true}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rtscope::vulkan_testing
