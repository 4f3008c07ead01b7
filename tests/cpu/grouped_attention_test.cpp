// Grouped-query attention over in-place KV caches on the CPU plugin
// (support/grouped_attention_check.hpp): H / Hkv of 1, 2, 4 and 8, f32 and
// f16, eager and captured, pos [1] and [B], against the float64 reference.
#include <gtest/gtest.h>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/error_of.hpp"
#include "support/grouped_attention_check.hpp"

namespace rtscope {
namespace {

using testing::GroupedCase;

class CpuGroupedAttention : public ::testing::TestWithParam<GroupedCase> {};

TEST_P(CpuGroupedAttention, StreamMatchesReference) {
  const GroupedCase& c = GetParam();
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(testing::grouped_attention_graph(c), registry, {.backends = {"cpu"}});
  ASSERT_EQ(model->modules().size(), 1u);
  testing::expect_grouped_stream_matches_reference(*model, c);
}

// 6 query heads over 4 KV heads: the graph is refused before any plugin
// sees it, naming the attention node and both head counts.
TEST(GroupedAttentionGraph, HeadsNotAMultipleOfKvHeadsNameTheNode) {
  GroupedCase c;
  c.heads = 6;
  c.kv_heads = 4;
  const std::string message = testing::error_of([&] { testing::grouped_attention_graph(c); });
  testing::expect_message(message, "test:grouped_attention",
                          {"node 'sdpa' (attention)", "query heads 6", "KV heads 4"});
}

INSTANTIATE_TEST_SUITE_P(Ratios, CpuGroupedAttention, ::testing::ValuesIn(testing::grouped_cases()),
                         testing::grouped_case_name);

}  // namespace
}  // namespace rtscope
