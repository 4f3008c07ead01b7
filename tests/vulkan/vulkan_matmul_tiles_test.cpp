// f16 matmuls whose shapes fit the tensor-core tiles (matmul_coop.comp:
// M % 128, N % 256, K % 32) and ones that just miss them. On a device with
// VK_NV_cooperative_matrix the first run on tensor cores and the others on
// the tiled shader; elsewhere (lavapipe) all run tiled. Either way each
// must match the float64 reference within f16 tolerance.
#include <gtest/gtest.h>

#include <cmath>

#include "rtscope/model.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan_test_support.hpp"

namespace rtscope {
namespace {

struct MatmulShape {
  int64_t batch, m, k, n;
};

Graph matmul_graph(const MatmulShape& s) {
  return testing::GraphBuilder("matmul_tiles")
      .input("a", DType::f16, {s.batch, s.m, s.k})
      .input("b", DType::f16, {s.k, s.n})
      .node("mm", "matmul", {"a", "b"}, "c")
      .outputs({"c"})
      .build();
}

using VulkanMatmulTiles = vulkan_testing::VulkanCaseTest<MatmulShape>;

TEST_P(VulkanMatmulTiles, MatchesFloat64Reference) {
  const MatmulShape s = GetParam();
  auto model = build(matmul_graph(s));
  RecordProperty("kernel", model->placements().front().reason);

  const Tensor a = Tensor::random(DType::f16, {s.batch, s.m, s.k}, 5);
  const Tensor b = Tensor::random(DType::f16, {s.k, s.n}, 6);
  const std::vector<double> got = model->run({{"a", a}, {"b", b}}).at("c").to_doubles();
  const std::vector<double> expected =
      testing::reference_outputs(model->graph(), {{"a", a}, {"b", b}}).at("c").data;
  ASSERT_EQ(got.size(), expected.size());
  // f16 output of sums of k products of values in [-1, 1]: the f16 rounding
  // of the result dominates (relative 2^-11), plus f16 accumulation noise.
  const double tolerance = 2e-3 * std::sqrt(static_cast<double>(s.k)) + 1e-3;
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - expected[i]) > std::abs(got[worst] - expected[worst])) worst = i;
  }
  EXPECT_NEAR(got[worst], expected[worst], tolerance + 1e-3 * std::abs(expected[worst]))
      << "worst element " << worst << " of " << got.size();
  vulkan_testing::expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanMatmulTiles,
    ::testing::Values(MatmulShape{1, 128, 32, 256},   // one tile, one K step
                      MatmulShape{2, 256, 96, 512},   // batches, several tiles and K steps
                      MatmulShape{1, 128, 48, 256},   // K off the tile: tiled shader
                      MatmulShape{1, 136, 64, 256}),  // M off the tile: tiled shader
    [](const ::testing::TestParamInfo<MatmulShape>& info) {
      const MatmulShape& s = info.param;
      return std::to_string(s.batch) + "x" + std::to_string(s.m) + "x" + std::to_string(s.k) + "x" +
             std::to_string(s.n);
    });

}  // namespace
}  // namespace rtscope
