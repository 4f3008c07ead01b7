// Attention split over key blocks (attention_split.comp: per-block partials,
// then a combine pass) against the float64 reference: caches of several
// blocks with a partial last one, positions inside the first block and deep
// in the cache, several query rows that see different key counts, head
// dims read as 16-byte vectors or not.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/reference_outputs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

SymShape fixed(const Shape& shape) {
  SymShape sym;
  for (int64_t d : shape) sym.push_back(Dim::fixed(d));
  return sym;
}

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
  Graph g;
  g.name = "split_attention";
  g.loc = {"test:split_attention", 0, 0};
  g.inputs.push_back({"q", {c.dtype, fixed({2, c.heads, c.seq, c.head_dim})}, g.loc});
  g.inputs.push_back({"k", {c.dtype, fixed({2, c.heads, c.cache_len, c.head_dim})}, g.loc});
  g.inputs.push_back({"v", {c.dtype, fixed({2, c.heads, c.cache_len, c.head_dim})}, g.loc});
  g.inputs.push_back({"pos", {DType::i64, fixed({1})}, g.loc});
  g.nodes.push_back(Node{"sdpa", "attention", {"q", "k", "v", "pos"}, {"ctx"}, {}, g.loc});
  g.outputs = {"ctx"};
  validate(g);
  return g;
}

class VulkanSplitAttention : public ::testing::TestWithParam<SplitCase> {};

TEST_P(VulkanSplitAttention, MatchesTheReference) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const SplitCase c = GetParam();
  auto model = Model::build(attention_graph(c), registry, {.backends = {"vulkan"}});
  Tensor pos = Tensor::zeros(DType::i64, {1});
  std::memcpy(pos.data(), &c.pos, sizeof(c.pos));
  // Scores of order one: q scaled down so the softmax is neither flat nor
  // a one-hot.
  const std::map<std::string, Tensor> inputs{
      {"q", Tensor::random(c.dtype, {2, c.heads, c.seq, c.head_dim}, 61, 0.5)},
      {"k", Tensor::random(c.dtype, {2, c.heads, c.cache_len, c.head_dim}, 62)},
      {"v", Tensor::random(c.dtype, {2, c.heads, c.cache_len, c.head_dim}, 63)},
      {"pos", pos}};
  const auto expected = testing::reference_outputs(model->graph(), inputs);
  const auto outputs = model->run(inputs);
  const double tolerance = c.dtype == DType::f16 ? 2e-2 : 1e-5;
  EXPECT_LE(reference::closeness(outputs.at("ctx"), expected.at("ctx"), tolerance, tolerance), 1.0);
  // Per-block partials, then the combine: two dispatches.
  EXPECT_EQ(counter(*model->modules()[0], "dispatches"), 2u);
  expect_no_validation_errors(*model);
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
