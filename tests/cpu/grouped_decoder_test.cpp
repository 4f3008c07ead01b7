// The built-in decoder with grouped-query attention on the CPU plugin
// streams the tokens of its multi-head twin (the K/V heads repeated, as
// the decoder ran before its caches were grouped) with heads / kv_heads
// times less KV cache memory (support/grouped_decoder_check.hpp).
#include <gtest/gtest.h>

#include "rtscope/plugin_registry.hpp"
#include "support/grouped_decoder_cases.hpp"
#include "support/grouped_decoder_check.hpp"

namespace rtscope {
namespace {

using testing::GroupedDecoderCase;

class CpuGroupedDecoder : public ::testing::TestWithParam<GroupedDecoderCase> {};

TEST_P(CpuGroupedDecoder, MatchesRepeatedKvTwinWithSmallerCaches) {
  const GroupedDecoderCase& c = GetParam();
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  DecoderParams params = testing::small_decoder_params(c.dtype);
  params.kv_heads = c.kv_heads;
  testing::expect_grouped_decoder_matches_twin(registry, "cpu", params, c.capture);
}

INSTANTIATE_TEST_SUITE_P(KvHeads, CpuGroupedDecoder,
                         ::testing::ValuesIn(testing::grouped_decoder_cases()),
                         testing::grouped_decoder_case_name);

}  // namespace
}  // namespace rtscope
