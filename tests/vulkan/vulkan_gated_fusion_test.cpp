// A SwiGLU block (y = silu(linear(n, wg)) * linear(n, wu), n optionally an
// rmsnorm of x) runs as one gated matvec_t dispatch when the projections
// run matvec_t, and matches the float64 reference fused or not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/tiny_graphs.hpp"
#include "vulkan/fusion_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::seeded_init;

constexpr int64_t kInner = 64;
constexpr int64_t kHidden = 40;

struct GatedCase {
  DType dtype;
  int64_t rows;
  bool norm;            // the projections read rmsnorm(x, gain)
  bool up_first;        // y = mul(up, silu(gate)) instead of mul(silu(gate), up)
  bool gate_is_output;  // the gate projection is read outside: nothing fuses
  uint64_t fused;       // gated products per execute
  uint64_t dispatches;  // per execute
};

void PrintTo(const GatedCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.rows << " rows"
       << (c.norm ? ", normed" : "") << (c.up_first ? ", up first" : "")
       << (c.gate_is_output ? ", gate read outside" : "");
}

using VulkanGatedFusion = VulkanCaseTest<GatedCase>;

Graph gated_graph(const GatedCase& c) {
  testing::GraphBuilder g("gated");
  g.input("x", c.dtype, {c.rows, kInner})
      .weight("wg", c.dtype, {kInner, kHidden}, seeded_init(21, 0.5))
      .weight("wu", c.dtype, {kInner, kHidden}, seeded_init(22, 0.5));
  const std::string n = optional_rmsnorm(g, c.norm, c.dtype, kInner, 23);
  g.node("gate_proj", "linear", {n, "wg"}, "gate")
      .node("act", "silu", {"gate"}, "s")
      .node("up_proj", "linear", {n, "wu"}, "up")
      .node("gate_mul", "mul",
            c.up_first ? std::vector<std::string>{"up", "s"} : std::vector<std::string>{"s", "up"},
            "y")
      .outputs({"y"});
  if (c.gate_is_output) g.outputs({"gate"});
  return g.build();
}

TEST_P(VulkanGatedFusion, MatchesTheReferenceFusedOrNot) {
  const GatedCase c = GetParam();
  auto model = build(gated_graph(c));
  expect_fused_or_not(registry_, *model, {{"x", Tensor::random(c.dtype, {c.rows, kInner}, 51)}},
                      c.dtype == DType::f16 ? 2e-2 : 1e-5, c.fused > 0,
                      {{"fused_gated_products", c.fused}, {"dispatches", c.dispatches}});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanGatedFusion,
    ::testing::Values(GatedCase{DType::f32, 1, false, false, false, 1, 1},   // one dispatch
                      GatedCase{DType::f16, 1, true, false, false, 1, 1},    // norm inside too
                      GatedCase{DType::f16, 3, true, true, false, 1, 1},     // operands swapped
                      GatedCase{DType::f32, 19, true, false, false, 1, 1},   // row blocks, a rest
                      GatedCase{DType::f32, 80, false, false, false, 0, 4},  // tiled: separate
                      GatedCase{DType::f32, 1, false, false, true, 0, 4}));  // gate read outside

}  // namespace
}  // namespace rtscope::vulkan_testing
