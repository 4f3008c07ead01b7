// How a plan orders its dispatches: by dependency level, so independent
// work shares the stretch between two barriers, and a transpose that keeps
// the memory order for the bound shapes is a view that runs nothing.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/scopes.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/fusion_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::expect_matches_reference;
using testing::seeded_init;

using VulkanScheduling = VulkanTest;

// Two chains of two dependent nodes each, listed chain after chain:
// a1 = relu(a), a2 = silu(a1), b1 = relu(b), b2 = silu(b1).
Graph two_chains() {
  return testing::GraphBuilder("chains")
      .input("a", DType::f32, {64, 32})
      .input("b", DType::f32, {64, 32})
      .node("a1", "relu", {"a"}, "a_1")
      .node("a2", "silu", {"a_1"}, "a_2")
      .node("b1", "relu", {"b"}, "b_1")
      .node("b2", "silu", {"b_1"}, "b_2")
      .outputs({"a_2", "b_2"})
      .build();
}

TEST_F(VulkanScheduling, IndependentChainsShareBarriers) {
  auto model = build(two_chains());
  expect_matches_reference(*model,
                           {{"a", Tensor::random(DType::f32, {64, 32}, 11)},
                            {"b", Tensor::random(DType::f32, {64, 32}, 12)}},
                           1e-6);
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "dispatches"), 4u);
  // Levels: staging copies in | a1 b1 | a2 b2 | staging copies out. In
  // graph order, with buffers reused in graph order, it takes 5.
  EXPECT_EQ(counter(module, "barriers"), 3u);
  expect_no_validation_errors(*model);
}

// y = relu(transpose(x, perm 1 0 2)).
Graph transposed(const Shape& x_shape) {
  return testing::GraphBuilder("transposed")
      .input("x", DType::f32, x_shape)
      .node("swap", "transpose", {"x"}, "t", {{"perm", std::vector<int64_t>{1, 0, 2}}})
      .node("act", "relu", {"t"}, "y")
      .outputs({"y"})
      .build();
}

TEST_F(VulkanScheduling, TransposeMovingOnlyUnitAxesIsAView) {
  // [4, 1, 8] -> [1, 4, 8]: the same bytes in the same order.
  auto unit = build(transposed({4, 1, 8}));
  expect_matches_reference(*unit, {{"x", Tensor::random(DType::f32, {4, 1, 8}, 21)}}, 1e-6);
  EXPECT_EQ(counter(*unit->modules()[0], "dispatches"), 1u) << "only the relu runs";
  // [4, 2, 8] -> [2, 4, 8] moves data: a strided copy runs first.
  auto moving = build(transposed({4, 2, 8}));
  expect_matches_reference(*moving, {{"x", Tensor::random(DType::f32, {4, 2, 8}, 22)}}, 1e-6);
  EXPECT_EQ(counter(*moving->modules()[0], "dispatches"), 2u);
  expect_no_validation_errors(*unit);
}

// f16 within the output's rounding (2^-11 relative on sums of about 8).
double tolerance(DType dtype) { return dtype == DType::f16 ? 2e-2 : 1e-5; }

// y = r + linear(x, w, bias), optionally with the projection p as a second
// output (then the add cannot run inside the projection).
Graph residual_graph(DType dtype, int64_t rows, bool projection_is_output) {
  constexpr int64_t k = 64;
  constexpr int64_t n = 40;
  testing::GraphBuilder g("residual");
  g.input("x", dtype, {rows, k})
      .input("r", dtype, {rows, n})
      .weight("w", dtype, {k, n}, seeded_init(5, 0.5))
      .weight("bias", dtype, {n}, seeded_init(6, 0.5))
      .node("proj", "linear", {"x", "w", "bias"}, "p")
      .node("skip", "add", {"r", "p"}, "y")
      .outputs({"y"});
  if (projection_is_output) g.outputs({"p"});
  return g.build();
}

struct ResidualCase {
  DType dtype;
  int64_t rows;
  bool projection_is_output;
  uint64_t fused;  // adds run inside the projection, per execute
};

void PrintTo(const ResidualCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.rows << " rows"
       << (c.projection_is_output ? ", projection read outside" : "");
}

using VulkanResidualFusion = VulkanCaseTest<ResidualCase>;

TEST_P(VulkanResidualFusion, MatchesTheReferenceFusedOrNot) {
  const ResidualCase c = GetParam();
  auto model = build(residual_graph(c.dtype, c.rows, c.projection_is_output));
  expect_fused_or_not(registry_, *model,
                      {{"x", Tensor::random(c.dtype, {c.rows, 64}, 31)},
                       {"r", Tensor::random(c.dtype, {c.rows, 40}, 32)}},
                      tolerance(c.dtype), c.fused > 0,
                      {{"fused_residual_adds", c.fused}, {"dispatches", 2u - c.fused}});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanResidualFusion,
    ::testing::Values(ResidualCase{DType::f32, 1, false, 1},   // matvec_t adds r
                      ResidualCase{DType::f16, 3, false, 1},   // f16, several rows
                      ResidualCase{DType::f32, 19, false, 1},  // row blocks and a rest
                      ResidualCase{DType::f32, 80, false, 0},  // tiled shader: a separate add
                      ResidualCase{DType::f32, 1, true, 0}));  // p is read outside

struct PreNormCase {
  DType dtype;
  int64_t rows;
  bool normed_is_output;
  uint64_t dispatches;  // per execute
  // The gain folded into the three weights (Engine::fold_norm_gains): the
  // device then holds ones for it, which an unfused norm (80 rows: the
  // tiled shader) multiplies by.
  uint64_t folded;
};

using VulkanRowNormFusion = VulkanCaseTest<PreNormCase>;

void PrintTo(const PreNormCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.rows << " rows"
       << (c.normed_is_output ? ", norm read outside" : "");
}

// A pre-norm block: n = rmsnorm(x, g); q = linear(n, wq); k = linear(n, wk);
// y = x + linear(n, wo) — wo is [k, k] so that the residual matches.
Graph pre_norm_graph(DType dtype, int64_t rows, bool normed_is_output) {
  constexpr int64_t k = 64;
  testing::GraphBuilder g("pre_norm");
  g.input("x", dtype, {rows, k});
  const std::string n = optional_rmsnorm(g, /*norm=*/true, dtype, k, 7);
  uint64_t seed = 7;
  for (const char* name : {"wq", "wk", "wo"}) {
    g.weight(name, dtype, {k, name[1] == 'o' ? k : 24}, seeded_init(++seed, 0.5));
  }
  g.node("q_proj", "linear", {n, "wq"}, "q")
      .node("k_proj", "linear", {n, "wk"}, "k")
      .node("o_proj", "linear", {n, "wo"}, "o")
      .node("skip", "add", {"x", "o"}, "y")
      .outputs({"q", "k", "y"});
  if (normed_is_output) g.outputs({n});
  return g.build();
}

// Unfused, the block takes 5 dispatches: fewer means the norm (and the
// add) ran inside the projections.
TEST_P(VulkanRowNormFusion, MatchesTheReferenceFusedOrNot) {
  const PreNormCase c = GetParam();
  auto model = build(pre_norm_graph(c.dtype, c.rows, c.normed_is_output));
  expect_fused_or_not(registry_, *model, {{"x", Tensor::random(c.dtype, {c.rows, 64}, 41)}},
                      tolerance(c.dtype), c.dispatches < 5 || c.folded > 0,
                      {{"dispatches", c.dispatches}, {"folded_norm_gains", c.folded}});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanRowNormFusion,
    ::testing::Values(PreNormCase{DType::f32, 1, false, 3,
                                  1},  // three projections, norm and add inside
                      PreNormCase{DType::f16, 4, false, 3, 1},   // f16, one block of rows
                      PreNormCase{DType::f32, 19, false, 3, 1},  // row blocks and a rest
                      PreNormCase{DType::f32, 80, false, 5, 1},  // tiled shader: nothing fused
                      PreNormCase{DType::f32, 1, true, 4, 0}));  // n is read outside: the norm runs

// The gain is read by an op besides the norm: it keeps its values and
// nothing is folded. With RTSCOPE_VULKAN_FOLD_NORM_GAINS=0 nothing is
// folded either, and the fused projections multiply by the gain.
TEST(VulkanNormGainFolding, AGainReadElsewhereOrTheSwitchOffIsNotFolded) {
  constexpr int64_t k = 64;
  testing::GraphBuilder g("gain_read_elsewhere");
  g.input("x", DType::f32, {1, k});
  const std::string n = optional_rmsnorm(g, /*norm=*/true, DType::f32, k, 7);
  g.weight("wq", DType::f32, {k, 24}, seeded_init(8, 0.5))
      .node("q_proj", "linear", {n, "wq"}, "q")
      .node("scaled", "mul", {"x", "gain"}, "s")
      .outputs({"q", "s"});
  const Graph graph = g.build();
  const std::map<std::string, Tensor> inputs = {{"x", Tensor::random(DType::f32, {1, k}, 42)}};
  {
    PluginRegistry registry;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
    auto model = Model::build(graph, registry, {.backends = {"vulkan"}});
    expect_fused_or_not(registry, *model, inputs, tolerance(DType::f32), false,
                        {{"folded_norm_gains", 0}});
  }
  const testing::EnvGuard off("RTSCOPE_VULKAN_FOLD_NORM_GAINS", "0");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  auto model =
      Model::build(pre_norm_graph(DType::f32, 1, false), registry, {.backends = {"vulkan"}});
  expect_fused_or_not(registry, *model, {{"x", Tensor::random(DType::f32, {1, k}, 41)}},
                      tolerance(DType::f32), true,
                      {{"folded_norm_gains", 0}, {"fused_row_norms", 1}});
}

// q, k and v = linear(x, w*) share a dependency level, as an attention
// block's projections do; o = linear(q, wo) is alone in the next one, as
// the output projection is. 8 rows, so every product runs split-K.
Graph sibling_and_lone_products() {
  constexpr int64_t rows = 8;
  constexpr int64_t k = 256;
  testing::GraphBuilder g("sibling_and_lone_products");
  g.input("x", DType::f16, {rows, k});
  uint64_t seed = 50;
  for (const char* name : {"wq", "wk", "wv"}) {
    g.weight(name, DType::f16, {k, 64}, seeded_init(++seed, 0.5));
  }
  g.weight("wo", DType::f16, {64, 96}, seeded_init(++seed, 0.5))
      .node("q_proj", "linear", {"x", "wq"}, "q")
      .node("k_proj", "linear", {"x", "wk"}, "k")
      .node("v_proj", "linear", {"x", "wv"}, "v")
      .node("o_proj", "linear", {"q", "wo"}, "o")
      .outputs({"k", "v", "o"});
  return g.build();
}

// A narrow split-K product alone in its batch takes larger teams to fill
// RTSCOPE_VULKAN_MATVEC_MIN_GROUPS workgroups; products sharing a batch
// keep theirs, since together they fill the device (at 8 streams on an
// H100 spreading the q, k and v projections too cost 3% of the step).
// With a bound no product reaches only the lone one spreads; with none,
// none does; the generic and the specialized pipelines (eager) both
// match the reference either way.
TEST(VulkanSpreadProducts, OnlyAProductAloneInItsLevelSpreads) {
  for (const char* bound : {"65535", "0"}) {
    SCOPED_TRACE(std::string("RTSCOPE_VULKAN_MATVEC_MIN_GROUPS=") + bound);
    const testing::EnvGuard min_groups("RTSCOPE_VULKAN_MATVEC_MIN_GROUPS", bound);
    PluginRegistry registry;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
    auto model = Model::build(sibling_and_lone_products(), registry, {.backends = {"vulkan"}});
    auto settings = runtime_config(*model, {{"kernel_specialization", "eager"}});
    expect_fused_or_not(registry, *model, {{"x", Tensor::random(DType::f16, {8, 256}, 61)}},
                        tolerance(DType::f16), true,
                        {{"dispatches", 4u}, {"spread_products", *bound == '0' ? 0u : 1u}});
  }
}

}  // namespace
}  // namespace rtscope::vulkan_testing
