// Grouped-query attention over in-place KV caches on the Vulkan plugin
// (support/grouped_attention_check.hpp): H / Hkv of 1, 2, 4 and 8, f32 and
// f16, eager and captured, pos [1] and [B] (half the cpu suite's
// combinations, every pair still met), against the float64 reference,
// through the split-over-key-blocks shader (attention_split.comp) and,
// for a cache whose split partials would not fit the scratch, the
// one-workgroup-per-row shader (attention.comp).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "support/grouped_attention_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::GroupedCase;

// Rows · key blocks · (Dh + 2) floats of partials over 64 MiB (the split's
// scratch limit, kernels/attention.cpp): 8 · 128 rows and 65536 / 32 blocks
// of 10 floats are 80 MiB, so attention runs attention.comp; pos stays low,
// so each row sees at most 256 keys and the case stays fast.
std::vector<GroupedCase> vulkan_cases() {
  std::vector<GroupedCase> cases = testing::grouped_cases(/*half=*/true);
  for (const auto& [dtype, capture] : {std::pair{DType::f32, false}, std::pair{DType::f16, true}}) {
    GroupedCase c;
    c.batch = 1;
    c.heads = 8;
    c.kv_heads = 2;
    c.seq = 128;
    c.cache_len = 65536;
    c.head_dim = 8;
    c.steps = 2;
    c.dtype = dtype;
    c.capture = capture;
    cases.push_back(c);
  }
  return cases;
}

bool runs_split(const GroupedCase& c) { return c.cache_len <= 1024; }

using VulkanGroupedAttention = VulkanCaseTest<GroupedCase>;

TEST_P(VulkanGroupedAttention, StreamMatchesReference) {
  const GroupedCase& c = GetParam();
  auto model = build(testing::grouped_attention_graph(c));
  ASSERT_EQ(model->modules().size(), 1u);
  testing::expect_grouped_stream_matches_reference(*model, c);
  // Two cache writes, then attention in one dispatch: split (the last
  // block of each row combines the row's partials) or one workgroup per
  // row.
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "dispatches"), counter(module, "executes") * 3u) << runs_split(c);
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(Ratios, VulkanGroupedAttention, ::testing::ValuesIn(vulkan_cases()),
                         testing::grouped_case_name);

}  // namespace
}  // namespace rtscope::vulkan_testing
