// Attention split over key blocks (attention_split.comp: per-block partials
// combined by each row's last block, or by a pass of their own with
// RTSCOPE_VULKAN_FUSE_ATTENTION_COMBINE=0) against the float64 reference:
// caches of several blocks with a partial last one, positions inside the
// first block and deep in the cache, several query rows that see different
// key counts, head dims read as 16-byte vectors or not, more blocks than
// the combine merges in one round; twice in a row, at
// two positions, so that the row counters start from zero again.
#include <gtest/gtest.h>

#include <tuple>

#include "support/env_guard.hpp"
#include "support/small_models.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/fusion_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

struct SplitCase {
  DType dtype;
  int64_t heads;
  int64_t seq;  // query rows per head
  int64_t cache_len;
  int64_t head_dim;
  int64_t pos;
};

void PrintTo(const SplitCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16" : "f32") << " H" << c.heads << " S" << c.seq << " T"
       << c.cache_len << " Dh" << c.head_dim << " pos " << c.pos;
}

Graph attention_graph(const SplitCase& c) {
  return testing::GraphBuilder("split_attention")
      .input("q", c.dtype, {2, c.heads, c.seq, c.head_dim})
      .input("k", c.dtype, {2, c.heads, c.cache_len, c.head_dim})
      .input("v", c.dtype, {2, c.heads, c.cache_len, c.head_dim})
      .input("pos", DType::i64, {1})
      .node("sdpa", "attention", {"q", "k", "v", "pos"}, "ctx")
      .outputs({"ctx"})
      .build();
}

class VulkanSplitAttention : public VulkanTest,
                             public ::testing::WithParamInterface<std::tuple<SplitCase, bool>> {
 protected:
  void SetUp() override {
    const testing::EnvGuard combine("RTSCOPE_VULKAN_FUSE_ATTENTION_COMBINE",
                                    std::get<1>(GetParam()) ? "" : "0");
    VulkanTest::SetUp();
  }
};

TEST_P(VulkanSplitAttention, MatchesTheReference) {
  const auto& [c, fused_combine] = GetParam();
  auto model = build(attention_graph(c));
  // Scores of order one: q scaled down so the softmax is neither flat nor
  // a one-hot.
  const auto inputs = [&](int64_t pos) {
    return std::map<std::string, Tensor>{
        {"q", Tensor::random(c.dtype, {2, c.heads, c.seq, c.head_dim}, 61 + pos, 0.5)},
        {"k", Tensor::random(c.dtype, {2, c.heads, c.cache_len, c.head_dim}, 62)},
        {"v", Tensor::random(c.dtype, {2, c.heads, c.cache_len, c.head_dim}, 63)},
        {"pos", testing::position_tensor(pos)}};
  };
  const double tolerance = c.dtype == DType::f16 ? 2e-2 : 1e-5;
  testing::expect_matches_reference(*model, inputs(c.pos / 2), tolerance);
  // Per-block partials, then the combine: one dispatch per execute with
  // the combine in the partial pass, else two, on every device.
  const uint64_t per_execute = fused_combine ? 1 : 2;
  expect_fused_or_not(registry_, *model, inputs(c.pos), tolerance, /*fuses=*/false,
                      {{"dispatches", 2 * per_execute}, {"executes", 2}});
}

const SplitCase kSplitCases[] = {{DType::f32, 3, 1, 100, 64, 70},  // 3 blocks seen of 4
                                 {DType::f16, 3, 1, 100, 64, 99},  // the partial last block
                                 {DType::f16, 2, 1, 200, 128, 5},  // inside the first block
                                 {DType::f32, 2, 4, 70, 12, 30},   // rows see 31..34 keys
                                 {DType::f16, 2, 3, 40, 12, 31},   // scalar keys (24-byte rows)
                                 {DType::f32, 1, 1, 64, 256, 63},  // the largest head dim
                                 // More blocks than the combine loads in
                                 // one round (8): the running maximum rises
                                 // from round to round.
                                 {DType::f32, 2, 1, 700, 64, 650},
                                 {DType::f16, 1, 2, 600, 128, 520}};

INSTANTIATE_TEST_SUITE_P(Shapes, VulkanSplitAttention,
                         ::testing::Combine(::testing::ValuesIn(kSplitCases), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<SplitCase, bool>>& info) {
                           const SplitCase& c = std::get<0>(info.param);
                           return std::string(c.dtype == DType::f16 ? "f16" : "f32") + "_H" +
                                  std::to_string(c.heads) + "_S" + std::to_string(c.seq) + "_T" +
                                  std::to_string(c.cache_len) + "_Dh" + std::to_string(c.head_dim) +
                                  "_pos" + std::to_string(c.pos) +
                                  (std::get<1>(info.param) ? "_combined" : "_combine_pass");
                         });

}  // namespace
}  // namespace rtscope::vulkan_testing
