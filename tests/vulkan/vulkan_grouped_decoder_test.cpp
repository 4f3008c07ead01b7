// The built-in decoder with grouped-query attention on the Vulkan plugin
// streams the tokens of its multi-head twin (the K/V heads repeated, as
// the decoder ran before its caches were grouped) with heads / kv_heads
// times less KV cache memory (support/grouped_decoder_check.hpp). Half
// the cpu suite's combinations: each pair of kv_heads, dtype and capture
// mode is still met.
#include <gtest/gtest.h>

#include "support/grouped_decoder_cases.hpp"
#include "support/grouped_decoder_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::GroupedDecoderCase;

using VulkanGroupedDecoder = VulkanCaseTest<GroupedDecoderCase>;

TEST_P(VulkanGroupedDecoder, MatchesRepeatedKvTwinWithSmallerCaches) {
  const GroupedDecoderCase& c = GetParam();
  DecoderParams params = testing::small_decoder_params(c.dtype);
  params.kv_heads = c.kv_heads;
  testing::expect_grouped_decoder_matches_twin(registry_, "vulkan", params, c.capture);
}

INSTANTIATE_TEST_SUITE_P(KvHeads, VulkanGroupedDecoder,
                         ::testing::ValuesIn(testing::grouped_decoder_cases(/*pairs=*/true)),
                         testing::grouped_decoder_case_name);

}  // namespace
}  // namespace rtscope::vulkan_testing
