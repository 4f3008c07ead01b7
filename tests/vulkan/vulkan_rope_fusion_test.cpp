// y = rope(reshape(linear(n, w)), pos), n optionally an rmsnorm of x: the
// projection runs on matvec_t, it computes each pair of rotated columns and
// applies the rope itself (one dispatch); the result matches the float64
// reference fused or not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/small_models.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/fusion_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::seeded_init;

constexpr int64_t kInner = 64;
constexpr int64_t kHeads = 3;
constexpr int64_t kHeadDim = 16;

struct RopeCase {
  DType dtype;
  int64_t seq;  // rows of the projection (batch 1)
  int64_t pos;
  bool norm;            // the projection reads rmsnorm(x, gain)
  bool view_is_output;  // the reshaped projection is read outside: nothing fuses
  uint64_t fused;       // ropes run inside the projection, per execute
  uint64_t dispatches;  // per execute
};

void PrintTo(const RopeCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.seq << " rows at pos " << c.pos
       << (c.norm ? ", normed" : "") << (c.view_is_output ? ", view read outside" : "");
}

Graph rope_graph(const RopeCase& c) {
  testing::GraphBuilder g("rope_projection");
  g.input("x", c.dtype, {1, c.seq, kInner})
      .input("pos", DType::i64, {1})
      .weight("w", c.dtype, {kInner, kHeads * kHeadDim}, seeded_init(71, 0.5));
  const std::string n = optional_rmsnorm(g, c.norm, c.dtype, kInner, 72);
  g.node("proj", "linear", {n, "w"}, "p")
      .node("split", "reshape", {"p"}, "heads",
            {{"shape", std::vector<int64_t>{0, 0, kHeads, kHeadDim}}})
      .node("rot", "rope", {"heads", "pos"}, "y", {{"base", 500.0}})
      .outputs({"y"});
  if (c.view_is_output) g.outputs({"heads"});
  return g.build();
}

using VulkanRopeFusion = VulkanCaseTest<RopeCase>;

TEST_P(VulkanRopeFusion, MatchesTheReferenceFusedOrNot) {
  const RopeCase c = GetParam();
  auto model = build(rope_graph(c));
  // f32: the device's sin and cos (as in the op conformance cases).
  expect_fused_or_not(registry_, *model,
                      {{"x", Tensor::random(c.dtype, {1, c.seq, kInner}, 81)},
                       {"pos", testing::position_tensor(c.pos)}},
                      c.dtype == DType::f16 ? 2e-2 : 1e-4, c.fused > 0,
                      {{"fused_ropes", c.fused}, {"dispatches", c.dispatches}});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanRopeFusion,
    ::testing::Values(RopeCase{DType::f32, 1, 37, true, false, 1, 1},   // a decode step
                      RopeCase{DType::f16, 1, 200, true, false, 1, 1},  // f16, large angles
                      RopeCase{DType::f32, 5, 3, false, false, 1, 1},   // rows at pos + s
                      RopeCase{DType::f16, 19, 0, true, false, 1, 1},   // row blocks, a rest
                      RopeCase{DType::f32, 80, 2, true, false, 0, 3},   // tiled: norm and rope
                      RopeCase{DType::f32, 1, 9, true, true, 0, 2}));   // view read outside

}  // namespace
}  // namespace rtscope::vulkan_testing
