// The CPU plugin's max_pool and avg_pool kernels (its window loop and
// oneDNN's pooling over channel slices), each forced with
// RTSCOPE_CPU_FORCE_VARIANT, against the float64 reference: strides,
// pads, dilations, ceil_mode, padding counted or not, 1d and 2d.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/cpu_variants.hpp"
#include "support/reference_outputs.hpp"

namespace rtscope {
namespace {

using testing::ForcedVariant;
using testing::variant_nodes;

struct PoolCase {
  std::string label;
  Shape x;
  AttrMap attrs;
};

AttrValue ints(std::vector<int64_t> values) { return AttrValue{std::move(values)}; }

Graph pool_graph(const std::string& op, const PoolCase& c) {
  Graph g;
  g.name = op + "_" + c.label;
  g.loc = {"pool_variants_test", 0, 0};
  SymShape shape;
  for (int64_t d : c.x) shape.push_back(Dim::fixed(d));
  g.inputs.push_back({"x", {DType::f32, shape}, g.loc});
  g.nodes.push_back({"pool", op, {"x"}, {"y"}, c.attrs, g.loc});
  g.outputs.push_back("y");
  validate(g);
  return g;
}

const std::vector<PoolCase>& cases() {
  static const std::vector<PoolCase> all = {
      {"strided_padded",
       {2, 5, 9, 9},
       {{"kernel", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}},
      {"asymmetric_dilated",
       {1, 4, 10, 11},
       {{"kernel", ints({2, 3})}, {"pads", ints({1, 0, 0, 2})}, {"dilations", ints({2, 1})}}},
      {"ceil_mode_1d",
       {1, 3, 10},
       {{"kernel", ints({3})}, {"strides", ints({2})}, {"ceil_mode", int64_t{1}}}},
      {"ceil_mode_2d",
       {1, 6, 7, 8},
       {{"kernel", ints({2, 2})}, {"strides", ints({2, 2})}, {"ceil_mode", int64_t{1}}}},
      // Windows wider than the stride, rows overlapping, and pads that
      // leave some windows mostly padding.
      {"overlapping_asymmetric",
       {2, 3, 11, 13},
       {{"kernel", ints({3, 4})}, {"strides", ints({1, 3})}, {"pads", ints({0, 2, 1, 1})}}},
  };
  return all;
}

struct Param {
  const char* op;
  const char* variant;
  bool count_include_pad;
};

class PoolVariants : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }
  PluginRegistry registry_;
};

TEST_P(PoolVariants, MatchFloat64Reference) {
  const Param param = GetParam();
  const ForcedVariant forced(param.variant);
  uint64_t seed = 40;
  for (PoolCase c : cases()) {
    if (param.count_include_pad) c.attrs["count_include_pad"] = int64_t{1};
    SCOPED_TRACE(c.label);
    const Graph graph = pool_graph(param.op, c);
    auto model = testing::eager_cpu_model(registry_, graph);
    for (int round = 0; round < 2; ++round) {
      const std::map<std::string, Tensor> inputs = {{"x", Tensor::random(DType::f32, c.x, ++seed)}};
      const auto expected = testing::reference_outputs(graph, inputs);
      const Tensor y = model->run(inputs).at("y");
      EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-5, 1e-5), 1.0) << "round " << round;
    }
    // Dilated windows, and counting padding past the declared pads
    // (ceil_mode), are the window loop's alone.
    const bool offered = std::string(param.variant).find("onednn") == std::string::npos ||
                         (c.label != "asymmetric_dilated" &&
                          (!param.count_include_pad || c.label.rfind("ceil_mode", 0) != 0));
    EXPECT_EQ(variant_nodes(*model, param.variant), offered ? 1u : 0u);
  }
}

// A NaN in a window makes that window's max NaN, and no other: the row
// by row 2d kernel (max_pool.f32 without dilation) as the window loop.
TEST(MaxPool, NaNReachesEveryWindowHoldingItAndNoOther) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  const ForcedVariant forced("max_pool.f32");
  const PoolCase c{
      "nan",
      {1, 2, 6, 6},
      {{"kernel", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}};
  const Graph graph = pool_graph("max_pool", c);
  auto model = testing::eager_cpu_model(registry, graph);
  Tensor x = Tensor::random(DType::f32, c.x, 7);
  x.data_as<float>()[2 * 6 + 3] = std::numeric_limits<float>::quiet_NaN();  // plane 0, (2, 3)
  const Tensor y = model->run({{"x", x}}).at("y");
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 3}));
  const float* out = y.data_as<float>();
  for (int64_t i = 0; i < y.numel(); ++i) {
    // Plane 0's windows over rows 1..3 and columns 1..3 or 3..5.
    const bool holds_nan = i == 1 * 3 + 1 || i == 1 * 3 + 2;
    EXPECT_EQ(std::isnan(out[i]), holds_nan) << "output " << i;
  }
  EXPECT_EQ(variant_nodes(*model, "max_pool.f32"), 1u);
}

INSTANTIATE_TEST_SUITE_P(Cpu, PoolVariants,
                         ::testing::Values(Param{"max_pool", "max_pool.f32", false},
                                           Param{"max_pool", "max_pool.onednn", false},
                                           Param{"avg_pool", "avg_pool.f32", false},
                                           Param{"avg_pool", "avg_pool.onednn", false},
                                           Param{"avg_pool", "avg_pool.f32", true},
                                           Param{"avg_pool", "avg_pool.onednn", true}),
                         [](const auto& info) {
                           return testing::test_name_of(info.param.variant) +
                                  (info.param.count_include_pad ? "_counting_pads" : "");
                         });

}  // namespace
}  // namespace rtscope
