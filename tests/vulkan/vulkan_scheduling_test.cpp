// How a plan orders its dispatches: by dependency level, so independent
// work shares the stretch between two barriers, and a transpose that keeps
// the memory order for the bound shapes is a view that runs nothing.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::fixed_shape;

void expect_matches_reference(Model& model, const std::map<std::string, Tensor>& inputs,
                              double tolerance = 1e-6) {
  const auto expected = testing::reference_outputs(model.graph(), inputs);
  const auto outputs = model.run(inputs);
  for (const auto& [name, value] : expected) {
    EXPECT_LE(reference::closeness(outputs.at(name), value, tolerance, tolerance), 1.0) << name;
  }
}

// Two chains of two dependent nodes each, listed chain after chain:
// a1 = relu(a), a2 = silu(a1), b1 = relu(b), b2 = silu(b1).
Graph two_chains() {
  Graph g;
  g.name = "chains";
  g.loc = {"test:chains", 0, 0};
  g.inputs.push_back({"a", {DType::f32, fixed_shape({64, 32})}, g.loc});
  g.inputs.push_back({"b", {DType::f32, fixed_shape({64, 32})}, g.loc});
  g.nodes.push_back(Node{"a1", "relu", {"a"}, {"a_1"}, {}, g.loc});
  g.nodes.push_back(Node{"a2", "silu", {"a_1"}, {"a_2"}, {}, g.loc});
  g.nodes.push_back(Node{"b1", "relu", {"b"}, {"b_1"}, {}, g.loc});
  g.nodes.push_back(Node{"b2", "silu", {"b_1"}, {"b_2"}, {}, g.loc});
  g.outputs = {"a_2", "b_2"};
  validate(g);
  return g;
}

TEST(VulkanScheduling, IndependentChainsShareBarriers) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  auto model = Model::build(two_chains(), registry, {.backends = {"vulkan"}});
  expect_matches_reference(*model, {{"a", Tensor::random(DType::f32, {64, 32}, 11)},
                                    {"b", Tensor::random(DType::f32, {64, 32}, 12)}});
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "dispatches"), 4u);
  // Levels: staging copies in | a1 b1 | a2 b2 | staging copies out. In
  // graph order, with buffers reused in graph order, it takes 5.
  EXPECT_EQ(counter(module, "barriers"), 3u);
  expect_no_validation_errors(*model);
}

// y = relu(transpose(x, perm 1 0 2)).
Graph transposed(const Shape& x_shape) {
  Graph g;
  g.name = "transposed";
  g.loc = {"test:transposed", 0, 0};
  g.inputs.push_back({"x", {DType::f32, fixed_shape(x_shape)}, g.loc});
  g.nodes.push_back(
      Node{"swap", "transpose", {"x"}, {"t"}, {{"perm", std::vector<int64_t>{1, 0, 2}}}, g.loc});
  g.nodes.push_back(Node{"act", "relu", {"t"}, {"y"}, {}, g.loc});
  g.outputs = {"y"};
  validate(g);
  return g;
}

TEST(VulkanScheduling, TransposeMovingOnlyUnitAxesIsAView) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  // [4, 1, 8] -> [1, 4, 8]: the same bytes in the same order.
  auto unit = Model::build(transposed({4, 1, 8}), registry, {.backends = {"vulkan"}});
  expect_matches_reference(*unit, {{"x", Tensor::random(DType::f32, {4, 1, 8}, 21)}});
  EXPECT_EQ(counter(*unit->modules()[0], "dispatches"), 1u) << "only the relu runs";
  // [4, 2, 8] -> [2, 4, 8] moves data: a strided copy runs first.
  auto moving = Model::build(transposed({4, 2, 8}), registry, {.backends = {"vulkan"}});
  expect_matches_reference(*moving, {{"x", Tensor::random(DType::f32, {4, 2, 8}, 22)}});
  EXPECT_EQ(counter(*moving->modules()[0], "dispatches"), 2u);
  expect_no_validation_errors(*unit);
}

// Builds `graph` on the vulkan plugin and checks one run against the
// float64 reference; f16 within the output's rounding (2^-11 relative on
// sums of about 8).
std::unique_ptr<Model> build_checked(PluginRegistry& registry, Graph graph, DType dtype,
                                     const std::map<std::string, Tensor>& inputs) {
  auto model = Model::build(std::move(graph), registry, {.backends = {"vulkan"}});
  expect_matches_reference(*model, inputs, dtype == DType::f16 ? 2e-2 : 1e-5);
  return model;
}

// y = r + linear(x, w, bias), optionally with the projection p as a second
// output (then the add cannot run inside the projection).
Graph residual_graph(DType dtype, int64_t rows, bool projection_is_output) {
  constexpr int64_t k = 64;
  constexpr int64_t n = 40;
  Graph g;
  g.name = "residual";
  g.loc = {"test:residual", 0, 0};
  g.inputs.push_back({"x", {dtype, fixed_shape({rows, k})}, g.loc});
  g.inputs.push_back({"r", {dtype, fixed_shape({rows, n})}, g.loc});
  WeightInit init;
  init.scale = 0.5;
  init.seed = 5;
  g.weights.push_back({{"w", {dtype, fixed_shape({k, n})}, g.loc}, init});
  init.seed = 6;
  g.weights.push_back({{"bias", {dtype, fixed_shape({n})}, g.loc}, init});
  g.nodes.push_back(Node{"proj", "linear", {"x", "w", "bias"}, {"p"}, {}, g.loc});
  g.nodes.push_back(Node{"skip", "add", {"r", "p"}, {"y"}, {}, g.loc});
  g.outputs = {"y"};
  if (projection_is_output) g.outputs.push_back("p");
  validate(g);
  return g;
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

class VulkanResidualFusion : public ::testing::TestWithParam<ResidualCase> {};

TEST_P(VulkanResidualFusion, MatchesTheReferenceFusedOrNot) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const ResidualCase c = GetParam();
  auto model =
      build_checked(registry, residual_graph(c.dtype, c.rows, c.projection_is_output), c.dtype,
                    {{"x", Tensor::random(c.dtype, {c.rows, 64}, 31)},
                     {"r", Tensor::random(c.dtype, {c.rows, 40}, 32)}});
  const Module& module = *model->modules()[0];
  if (counter(module, "fused_residual_adds") == 0 && c.fused > 0 &&
      counter(module, "dispatches") == 2) {
    GTEST_SKIP() << "this device keeps linear weights [K, N] (no subgroup arithmetic): "
                    "nothing to fuse into";
  }
  EXPECT_EQ(counter(module, "fused_residual_adds"), c.fused);
  EXPECT_EQ(counter(module, "dispatches"), 2u - c.fused);
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanResidualFusion,
    ::testing::Values(ResidualCase{DType::f32, 1, false, 1},   // matvec_t adds r
                      ResidualCase{DType::f16, 3, false, 1},   // f16, several rows
                      ResidualCase{DType::f32, 19, false, 1},  // row blocks and a rest
                      ResidualCase{DType::f32, 80, false, 0},  // tiled shader: a separate add
                      ResidualCase{DType::f32, 1, true, 0}));  // p is read outside

// A pre-norm block: n = rmsnorm(x, g); q = linear(n, wq); k = linear(n, wk);
// y = x + linear(n, wo) — wo is [k, k] so that the residual matches.
Graph pre_norm_graph(DType dtype, int64_t rows, bool normed_is_output) {
  constexpr int64_t k = 64;
  Graph g;
  g.name = "pre_norm";
  g.loc = {"test:pre_norm", 0, 0};
  g.inputs.push_back({"x", {dtype, fixed_shape({rows, k})}, g.loc});
  WeightInit init;
  init.scale = 0.5;
  init.offset = 1.0;  // gains around 1
  init.seed = 7;
  g.weights.push_back({{"gain", {dtype, fixed_shape({k})}, g.loc}, init});
  init.offset = 0.0;
  for (const char* name : {"wq", "wk", "wo"}) {
    init.seed += 1;
    g.weights.push_back({{name, {dtype, fixed_shape({k, name[1] == 'o' ? k : 24})}, g.loc}, init});
  }
  g.nodes.push_back(Node{"norm", "rmsnorm", {"x", "gain"}, {"n"}, {{"eps", 1e-5}}, g.loc});
  g.nodes.push_back(Node{"q_proj", "linear", {"n", "wq"}, {"q"}, {}, g.loc});
  g.nodes.push_back(Node{"k_proj", "linear", {"n", "wk"}, {"k"}, {}, g.loc});
  g.nodes.push_back(Node{"o_proj", "linear", {"n", "wo"}, {"o"}, {}, g.loc});
  g.nodes.push_back(Node{"skip", "add", {"x", "o"}, {"y"}, {}, g.loc});
  g.outputs = {"q", "k", "y"};
  if (normed_is_output) g.outputs.push_back("n");
  validate(g);
  return g;
}

struct PreNormCase {
  DType dtype;
  int64_t rows;
  bool normed_is_output;
  uint64_t dispatches;  // per execute
};

void PrintTo(const PreNormCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.rows << " rows"
       << (c.normed_is_output ? ", norm read outside" : "");
}

class VulkanRowNormFusion : public ::testing::TestWithParam<PreNormCase> {};

TEST_P(VulkanRowNormFusion, MatchesTheReferenceFusedOrNot) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const PreNormCase c = GetParam();
  auto model = build_checked(registry, pre_norm_graph(c.dtype, c.rows, c.normed_is_output), c.dtype,
                             {{"x", Tensor::random(c.dtype, {c.rows, 64}, 41)}});
  const Module& module = *model->modules()[0];
  if (counter(module, "fused_row_norms") == 0 && c.dispatches < 5 &&
      counter(module, "dispatches") == 5) {
    GTEST_SKIP() << "this device keeps linear weights [K, N] (no subgroup arithmetic): "
                    "nothing to fuse into";
  }
  EXPECT_EQ(counter(module, "dispatches"), c.dispatches);
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanRowNormFusion,
    ::testing::Values(PreNormCase{DType::f32, 1, false,
                                  3},  // three projections, norm and add inside
                      PreNormCase{DType::f16, 4, false, 3},   // f16, one block of rows
                      PreNormCase{DType::f32, 19, false, 3},  // row blocks and a rest
                      PreNormCase{DType::f32, 80, false, 5},  // tiled shader: nothing fused
                      PreNormCase{DType::f32, 1, true, 4}));  // n is read outside: the norm runs

}  // namespace
}  // namespace rtscope::vulkan_testing
