// Attention split over key blocks (attention_split.comp: per-block partials,
// then a combine pass) against the float64 reference: caches of several
// blocks with a partial last one, positions inside the first block and deep
// in the cache, several query rows that see different key counts, head
// dims read as 16-byte vectors or not.
#include <gtest/gtest.h>

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

using VulkanSplitAttention = VulkanCaseTest<SplitCase>;

TEST_P(VulkanSplitAttention, MatchesTheReference) {
  const SplitCase c = GetParam();
  auto model = build(attention_graph(c));
  // Scores of order one: q scaled down so the softmax is neither flat nor
  // a one-hot. Per-block partials, then the combine: two dispatches on
  // every device.
  expect_fused_or_not(registry_, *model,
                      {{"q", Tensor::random(c.dtype, {2, c.heads, c.seq, c.head_dim}, 61, 0.5)},
                       {"k", Tensor::random(c.dtype, {2, c.heads, c.cache_len, c.head_dim}, 62)},
                       {"v", Tensor::random(c.dtype, {2, c.heads, c.cache_len, c.head_dim}, 63)},
                       {"pos", testing::position_tensor(c.pos)}},
                      c.dtype == DType::f16 ? 2e-2 : 1e-5, /*fuses=*/false, {{"dispatches", 2}});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanSplitAttention,
    ::testing::Values(SplitCase{DType::f32, 3, 1, 100, 64, 70},    // 3 blocks seen of 4
                      SplitCase{DType::f16, 3, 1, 100, 64, 99},    // the partial last block
                      SplitCase{DType::f16, 2, 1, 200, 128, 5},    // inside the first block
                      SplitCase{DType::f32, 2, 4, 70, 12, 30},     // rows see 31..34 keys
                      SplitCase{DType::f16, 2, 3, 40, 12, 31},     // scalar keys (24-byte rows)
                      SplitCase{DType::f32, 1, 1, 64, 256, 63}));  // the largest head dim

}  // namespace
}  // namespace rtscope::vulkan_testing
