// A SwiGLU block (y = silu(linear(n, wg)) * linear(n, wu), n optionally an
// rmsnorm of x) runs as one gated matvec_t dispatch when the projections
// run matvec_t, and matches the float64 reference fused or not.
#include <gtest/gtest.h>

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
constexpr int64_t kHidden = 40;

SymShape fixed(const Shape& shape) {
  SymShape sym;
  for (int64_t d : shape) sym.push_back(Dim::fixed(d));
  return sym;
}

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

Graph gated_graph(const GatedCase& c) {
  Graph g;
  g.name = "gated";
  g.loc = {"test:gated", 0, 0};
  g.inputs.push_back({"x", {c.dtype, fixed({c.rows, kInner})}, g.loc});
  WeightInit init;
  init.scale = 0.5;
  init.seed = 21;
  g.weights.push_back({{"wg", {c.dtype, fixed({kInner, kHidden})}, g.loc}, init});
  init.seed = 22;
  g.weights.push_back({{"wu", {c.dtype, fixed({kInner, kHidden})}, g.loc}, init});
  std::string n = "x";
  if (c.norm) {
    init.seed = 23;
    init.offset = 1.0;  // gains around 1
    g.weights.push_back({{"gain", {c.dtype, fixed({kInner})}, g.loc}, init});
    g.nodes.push_back(Node{"norm", "rmsnorm", {"x", "gain"}, {"n"}, {{"eps", 1e-5}}, g.loc});
    n = "n";
  }
  g.nodes.push_back(Node{"gate_proj", "linear", {n, "wg"}, {"gate"}, {}, g.loc});
  g.nodes.push_back(Node{"act", "silu", {"gate"}, {"s"}, {}, g.loc});
  g.nodes.push_back(Node{"up_proj", "linear", {n, "wu"}, {"up"}, {}, g.loc});
  const std::vector<std::string> factors =
      c.up_first ? std::vector<std::string>{"up", "s"} : std::vector<std::string>{"s", "up"};
  g.nodes.push_back(Node{"gate_mul", "mul", factors, {"y"}, {}, g.loc});
  g.outputs = {"y"};
  if (c.gate_is_output) g.outputs.push_back("gate");
  validate(g);
  return g;
}

class VulkanGatedFusion : public ::testing::TestWithParam<GatedCase> {};

TEST_P(VulkanGatedFusion, MatchesTheReferenceFusedOrNot) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const GatedCase c = GetParam();
  auto model = Model::build(gated_graph(c), registry, {.backends = {"vulkan"}});
  const std::map<std::string, Tensor> inputs{{"x", Tensor::random(c.dtype, {c.rows, kInner}, 51)}};
  const auto expected = testing::reference_outputs(model->graph(), inputs);
  const auto outputs = model->run(inputs);
  const double tolerance = c.dtype == DType::f16 ? 2e-2 : 1e-5;
  for (const auto& [name, value] : expected) {
    EXPECT_LE(reference::closeness(outputs.at(name), value, tolerance, tolerance), 1.0) << name;
  }
  const Module& module = *model->modules()[0];
  if (c.fused > 0 && !device_runs_matvec_t(registry)) {
    GTEST_SKIP() << "this device keeps linear weights [K, N] (no subgroup arithmetic): "
                    "nothing to fuse into";
  }
  EXPECT_EQ(counter(module, "fused_gated_products"), c.fused);
  EXPECT_EQ(counter(module, "dispatches"), c.dispatches);
  expect_no_validation_errors(*model);
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
