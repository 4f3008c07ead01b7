// y = rope(reshape(linear(n, w)), pos), n optionally an rmsnorm of x: the
// projection runs on matvec_t, it computes each pair of rotated columns and
// applies the rope itself (one dispatch); the result matches the float64
// reference fused or not.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/reference_outputs.hpp"
#include "vulkan/matvec_t_probe.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

constexpr int64_t kInner = 64;
constexpr int64_t kHeads = 3;
constexpr int64_t kHeadDim = 16;

SymShape fixed(const Shape& shape) {
  SymShape sym;
  for (int64_t d : shape) sym.push_back(Dim::fixed(d));
  return sym;
}

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
  Graph g;
  g.name = "rope_projection";
  g.loc = {"test:rope_projection", 0, 0};
  g.inputs.push_back({"x", {c.dtype, fixed({1, c.seq, kInner})}, g.loc});
  g.inputs.push_back({"pos", {DType::i64, fixed({1})}, g.loc});
  WeightInit init;
  init.scale = 0.5;
  init.seed = 71;
  g.weights.push_back({{"w", {c.dtype, fixed({kInner, kHeads * kHeadDim})}, g.loc}, init});
  std::string n = "x";
  if (c.norm) {
    init.seed = 72;
    init.offset = 1.0;  // gains around 1
    g.weights.push_back({{"gain", {c.dtype, fixed({kInner})}, g.loc}, init});
    g.nodes.push_back(Node{"norm", "rmsnorm", {"x", "gain"}, {"n"}, {{"eps", 1e-5}}, g.loc});
    n = "n";
  }
  g.nodes.push_back(Node{"proj", "linear", {n, "w"}, {"p"}, {}, g.loc});
  g.nodes.push_back(Node{"split",
                         "reshape",
                         {"p"},
                         {"heads"},
                         {{"shape", std::vector<int64_t>{0, 0, kHeads, kHeadDim}}},
                         g.loc});
  g.nodes.push_back(Node{"rot", "rope", {"heads", "pos"}, {"y"}, {{"base", 500.0}}, g.loc});
  g.outputs = {"y"};
  if (c.view_is_output) g.outputs.push_back("heads");
  validate(g);
  return g;
}

class VulkanRopeFusion : public ::testing::TestWithParam<RopeCase> {};

TEST_P(VulkanRopeFusion, MatchesTheReferenceFusedOrNot) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const RopeCase c = GetParam();
  auto model = Model::build(rope_graph(c), registry, {.backends = {"vulkan"}});
  Tensor pos = Tensor::zeros(DType::i64, {1});
  std::memcpy(pos.data(), &c.pos, sizeof(c.pos));
  const std::map<std::string, Tensor> inputs{{"x", Tensor::random(c.dtype, {1, c.seq, kInner}, 81)},
                                             {"pos", pos}};
  const auto expected = testing::reference_outputs(model->graph(), inputs);
  const auto outputs = model->run(inputs);
  // f32: the device's sin and cos (as in the op conformance cases).
  const double tolerance = c.dtype == DType::f16 ? 2e-2 : 1e-4;
  for (const auto& [name, value] : expected) {
    EXPECT_LE(reference::closeness(outputs.at(name), value, tolerance, tolerance), 1.0) << name;
  }
  const Module& module = *model->modules()[0];
  if (c.fused > 0 && !device_runs_matvec_t(registry)) {
    GTEST_SKIP() << "this device keeps linear weights [K, N] (no subgroup arithmetic): "
                    "nothing to fuse into";
  }
  EXPECT_EQ(counter(module, "fused_ropes"), c.fused);
  EXPECT_EQ(counter(module, "dispatches"), c.dispatches);
  expect_no_validation_errors(*model);
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
