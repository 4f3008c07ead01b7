// Which queue family a device's contexts submit to (queue_family.hpp,
// RTSCOPE_VULKAN_QUEUE): the choice is a pure function of the families a
// device lists, checked here for an NVIDIA-like list on any machine; the
// plugin tests then decode on the chosen queue (a compute-only family on
// NVIDIA GPUs, the fallback to the only family on lavapipe) against the
// float64 reference, and reject a value that is not a choice.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "queue_family.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/batched_stream_check.hpp"
#include "support/env_guard.hpp"
#include "support/small_models.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan {
namespace {

VkQueueFamilyProperties family(VkQueueFlags flags, uint32_t queues, uint32_t timestamp_bits) {
  VkQueueFamilyProperties properties{};
  properties.queueFlags = flags;
  properties.queueCount = queues;
  properties.timestampValidBits = timestamp_bits;
  return properties;
}

constexpr VkQueueFlags kGraphicsCompute =
    VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT | VK_QUEUE_TRANSFER_BIT;
constexpr VkQueueFlags kComputeOnly = VK_QUEUE_COMPUTE_BIT | VK_QUEUE_TRANSFER_BIT;

// As an NVIDIA H100 lists them: graphics and compute, transfer only,
// compute only, then video families.
const std::vector<VkQueueFamilyProperties> kNvidiaLike = {
    family(kGraphicsCompute, 16, 64), family(VK_QUEUE_TRANSFER_BIT, 2, 64),
    family(kComputeOnly, 8, 64), family(VK_QUEUE_VIDEO_DECODE_BIT_KHR, 1, 64)};

TEST(VulkanQueueFamily, ParsesTheSwitch) {
  EXPECT_EQ(parse_queue_choice(nullptr), QueueChoice::kGeneral);
  EXPECT_EQ(parse_queue_choice(""), QueueChoice::kGeneral);
  EXPECT_EQ(parse_queue_choice("general"), QueueChoice::kGeneral);
  EXPECT_EQ(parse_queue_choice("compute"), QueueChoice::kComputeOnly);
  EXPECT_EQ(parse_queue_choice("async"), std::nullopt);
  EXPECT_EQ(parse_queue_choice("Compute"), std::nullopt);
}

TEST(VulkanQueueFamily, GeneralTakesTheFirstFamilyWithCompute) {
  const std::optional<QueueFamily> chosen = choose_queue_family(kNvidiaLike, QueueChoice::kGeneral);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->index, 0u);
  EXPECT_FALSE(chosen->compute_only);
  EXPECT_EQ(chosen->timestamp_bits, 64u);
}

TEST(VulkanQueueFamily, ComputeTakesTheFamilyWithoutGraphics) {
  const std::optional<QueueFamily> chosen =
      choose_queue_family(kNvidiaLike, QueueChoice::kComputeOnly);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->index, 2u);
  EXPECT_TRUE(chosen->compute_only);
}

TEST(VulkanQueueFamily, ComputeFallsBackWhereEveryComputeFamilyHasGraphics) {
  // lavapipe: one family for everything.
  const std::vector<VkQueueFamilyProperties> one = {family(kGraphicsCompute, 1, 64)};
  const std::optional<QueueFamily> chosen = choose_queue_family(one, QueueChoice::kComputeOnly);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->index, 0u);
  EXPECT_FALSE(chosen->compute_only);
}

TEST(VulkanQueueFamily, SkipsFamiliesWithoutQueuesAndDevicesWithoutCompute) {
  const std::vector<VkQueueFamilyProperties> empty_first = {
      family(kComputeOnly, 0, 64), family(VK_QUEUE_TRANSFER_BIT, 1, 0), family(kComputeOnly, 2, 0)};
  const std::optional<QueueFamily> chosen = choose_queue_family(empty_first, QueueChoice::kGeneral);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->index, 2u);
  EXPECT_TRUE(chosen->compute_only) << "a first compute family without graphics is compute only";
  EXPECT_EQ(chosen->timestamp_bits, 0u) << "its timestamps, not another family's";
  const std::vector<VkQueueFamilyProperties> none = {family(VK_QUEUE_TRANSFER_BIT, 1, 64)};
  EXPECT_FALSE(choose_queue_family(none, QueueChoice::kComputeOnly).has_value());
  EXPECT_FALSE(choose_queue_family({}, QueueChoice::kGeneral).has_value());
}

// Captured decode steps of two f16 streams on the queue `choice` names,
// checked step by step against the float64 reference; their tokens.
std::vector<std::vector<int64_t>> decode_on_queue(const char* choice) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_QUEUE", choice);
  PluginRegistry registry;
  const vulkan_testing::LoadResult load = vulkan_testing::load_vulkan(registry);
  if (!load.failure.empty()) {
    ADD_FAILURE() << "loading the vulkan plugin failed: " << load.failure;
    return {};
  }
  DecoderParams params = testing::small_decoder_params(DType::f16);
  params.batch = 2;
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  auto settings = runtime_config(*model, {{"kernel_specialization", "eager"}});
  RuntimeConfigScope capture = graph_capture(*model);
  const testing::BatchedStreams streams{.batch = 2, .prompt = 1, .steps = 4};
  std::vector<std::vector<int64_t>> tokens =
      testing::run_batched_streams(*model, params, streams, 0, 2, 3e-2);
  vulkan_testing::expect_no_validation_errors(*model);
  return tokens;
}

TEST(VulkanQueueFamily, DecodesTheSameTokensOnEitherQueue) {
  {
    PluginRegistry probe;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(probe);
  }
  const std::vector<std::vector<int64_t>> general = decode_on_queue("general");
  const std::vector<std::vector<int64_t>> compute = decode_on_queue("compute");
  ASSERT_FALSE(general.empty());
  EXPECT_EQ(compute, general);
}

TEST(VulkanQueueFamily, ThePluginRejectsAnUnknownChoice) {
  const testing::EnvGuard env("RTSCOPE_VULKAN_QUEUE", "async");
  PluginRegistry registry;
  const vulkan_testing::LoadResult load = vulkan_testing::load_vulkan(registry);
  if (!load.skip_reason.empty()) GTEST_SKIP() << load.skip_reason;
  EXPECT_NE(load.failure.find("RTSCOPE_VULKAN_QUEUE='async'"), std::string::npos) << load.failure;
  EXPECT_NE(load.failure.find("set general"), std::string::npos) << load.failure;
  EXPECT_NE(load.failure.find("compute"), std::string::npos) << load.failure;
}

}  // namespace
}  // namespace rtscope::vulkan
