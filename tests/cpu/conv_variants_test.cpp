// The CPU plugin's conv kernels (im2col + oneDNN sgemm by blocks of channels, oneDNN in one
// slice and in one slice of channels or groups per pool thread, oneDNN in
// the blocked layout, directly and by Winograd; a 1x1 kernel as one
// oneDNN sgemm on the plain layout, strided ones through a gathered copy), each
// forced with RTSCOPE_CPU_FORCE_VARIANT, against the float64 reference:
// strides, pads, dilations, groups (depthwise too), 1d and 2d, with and
// without bias and a following relu, weights as constants (reordered once
// per plan) and as runtime inputs (reordered per execute).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <thread>
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

struct ConvCase {
  std::string label;
  Shape x;
  Shape w;
  bool bias = false;
  bool relu = false;
  AttrMap attrs;
};

AttrValue ints(std::vector<int64_t> values) { return AttrValue{std::move(values)}; }

SymShape fixed(const Shape& shape) {
  SymShape out;
  for (int64_t d : shape) out.push_back(Dim::fixed(d));
  return out;
}

// x is an input; w (and b) are seeded weights, or inputs too with
// `runtime_weights`; the output is "y".
Graph conv_graph(const ConvCase& c, bool runtime_weights) {
  Graph g;
  g.name = "conv_" + c.label;
  g.loc = {"conv_variants_test", 0, 0};
  g.inputs.push_back({"x", {DType::f32, fixed(c.x)}, g.loc});
  const Shape bias_shape{c.w[0]};
  const auto add_operand = [&](const std::string& name, const Shape& shape, uint64_t seed) {
    if (runtime_weights) {
      g.inputs.push_back({name, {DType::f32, fixed(shape)}, g.loc});
    } else {
      WeightInit init;  // seeded, uniform in [-0.5, 0.5]
      init.seed = seed;
      init.scale = 0.5;
      g.weights.push_back({{name, {DType::f32, fixed(shape)}, g.loc}, init});
    }
  };
  add_operand("w", c.w, 3);
  Node conv{"conv", "conv", {"x", "w"}, {c.relu ? "pre" : "y"}, c.attrs, g.loc};
  if (c.bias) {
    add_operand("b", bias_shape, 4);
    conv.inputs.push_back("b");
  }
  g.nodes.push_back(conv);
  if (c.relu) g.nodes.push_back({"relu", "relu", {"pre"}, {"y"}, {}, g.loc});
  g.outputs.push_back("y");
  validate(g);
  return g;
}

const std::vector<ConvCase>& cases() {
  static const std::vector<ConvCase> all = {
      {"plain_3x3_pad", {1, 8, 9, 9}, {40, 8, 3, 3}, true, true, {{"pads", ints({1, 1, 1, 1})}}},
      {"strided_asymmetric_pads_dilated",
       {2, 5, 11, 10},
       {36, 5, 3, 2},
       false,
       false,
       {{"strides", ints({2, 1})}, {"pads", ints({1, 0, 2, 1})}, {"dilations", ints({2, 3})}}},
      {"groups",
       {2, 12, 7, 6},
       {48, 3, 3, 3},
       true,
       false,
       {{"group", int64_t{4}}, {"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}}},
      {"depthwise",
       {1, 32, 8, 8},
       {32, 1, 3, 3},
       true,
       true,
       {{"group", int64_t{32}}, {"pads", ints({1, 1, 1, 1})}}},
      {"depthwise_multiplier",
       {1, 6, 7, 7},
       {12, 1, 5, 5},
       false,
       false,
       {{"group", int64_t{6}}, {"pads", ints({2, 2, 2, 2})}, {"dilations", ints({1, 2})}}},
      {"pointwise_strided",
       {1, 16, 14, 14},
       {64, 16, 1, 1},
       true,
       false,
       {{"strides", ints({2, 2})}}},
      {"conv1d",
       {3, 4, 20},
       {34, 4, 5},
       true,
       true,
       {{"pads", ints({2, 1})}, {"strides", ints({3})}, {"dilations", ints({2})}}},
      {"conv1d_groups", {1, 8, 15}, {8, 2, 3}, false, false, {{"group", int64_t{4}}}},
      // 1x1 kernels: unstrided over a batch (the product reads the input
      // in place), and strided in 3 spatial dims (the gathered copy walks
      // every dim); output channels not a multiple of 16.
      {"pointwise_1d_batch", {3, 24, 9}, {40, 24, 1}, false, true, {}},
      {"pointwise_3d_strided",
       {2, 8, 5, 6, 7},
       {20, 8, 1, 1, 1},
       true,
       true,
       {{"strides", ints({2, 1, 3})}}},
      // Channels in whole blocks of 16: the blocked layout applies.
      {"blocks_3x3", {1, 32, 9, 9}, {48, 32, 3, 3}, true, true, {{"pads", ints({1, 1, 1, 1})}}},
      {"blocks_first_layer",
       {2, 3, 20, 20},
       {32, 3, 7, 7},
       true,
       false,
       {{"strides", ints({2, 2})}, {"pads", ints({3, 3, 3, 3})}}},
      // Winograd applies too (3x3, stride 1): a deep reduction, and no pads.
      {"blocks_3x3_deep",
       {2, 64, 12, 11},
       {64, 64, 3, 3},
       true,
       true,
       {{"pads", ints({1, 1, 1, 1})}}},
      {"blocks_3x3_valid", {1, 16, 8, 10}, {32, 16, 3, 3}, false, false, {}},
      // Images larger than the weights: row slices are offered too (odd
      // row counts, strides, asymmetric pads and dilation at the cuts).
      {"rows_3x3", {2, 16, 27, 24}, {16, 16, 3, 3}, true, true, {{"pads", ints({1, 1, 1, 1})}}},
      {"rows_first_layer",
       {1, 3, 45, 40},
       {16, 3, 7, 7},
       true,
       false,
       {{"strides", ints({2, 2})}, {"pads", ints({3, 3, 2, 3})}}},
      {"rows_dilated",
       {1, 16, 30, 20},
       {16, 16, 3, 3},
       false,
       true,
       {{"dilations", ints({2, 1})}, {"pads", ints({2, 1, 1, 1})}}},
      {"blocks_conv1d",
       {2, 16, 30},
       {32, 16, 3},
       false,
       true,
       {{"dilations", ints({2})}, {"pads", ints({2, 2})}}},
  };
  return all;
}

class ConvVariants : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }

  void check(bool runtime_weights) {
    const std::string variant = GetParam();
    const ForcedVariant forced(variant);
    uint64_t seed = 100;
    for (const ConvCase& c : cases()) {
      SCOPED_TRACE(c.label + (runtime_weights ? ", runtime weights" : ", constant weights"));
      const Graph graph = conv_graph(c, runtime_weights);
      auto model = testing::eager_cpu_model(registry_, graph);
      // Two executes: the second runs on state left by the first.
      Shape y_shape;
      for (int round = 0; round < 2; ++round) {
        std::map<std::string, Tensor> inputs = {{"x", Tensor::random(DType::f32, c.x, ++seed)}};
        if (runtime_weights) {
          inputs["w"] = Tensor::random(DType::f32, c.w, ++seed);
          if (c.bias) inputs["b"] = Tensor::random(DType::f32, {c.w[0]}, ++seed);
        }
        const auto expected = testing::reference_outputs(graph, inputs);
        const Tensor y = model->run(inputs).at("y");
        y_shape = y.shape();
        EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-4, 1e-4), 1.0) << "round " << round;
      }
      // The split is offered only where the pool has several threads (one
      // per core) and the channels (or groups) make two slices; the
      // blocked layout only without groups and with whole output blocks.
      const int64_t group =
          c.attrs.count("group") != 0 ? std::get<int64_t>(c.attrs.at("group")) : 1;
      const bool splits = std::thread::hardware_concurrency() > 1 && (c.w[0] >= 32 || group >= 4);
      const bool blocks = group == 1 && c.w[0] % 16 == 0;
      const auto unit = [&](const char* attr) {
        if (c.attrs.count(attr) == 0) return true;
        const auto& values = std::get<std::vector<int64_t>>(c.attrs.at(attr));
        return std::all_of(values.begin(), values.end(), [](int64_t v) { return v == 1; });
      };
      const bool winograd = blocks && c.x.size() == 4 && c.x[1] % 16 == 0 && c.w[2] == 3 &&
                            c.w[3] == 3 && unit("strides") && unit("dilations");
      // Row slices: 2 or 3 spatial dims, as many output rows as threads,
      // and an image larger than the weights (Winograd's: 4 times).
      const int64_t image =
          std::accumulate(c.x.begin() + 1, c.x.end(), int64_t{1}, std::multiplies<>());
      const int64_t weights =
          std::accumulate(c.w.begin(), c.w.end(), int64_t{1}, std::multiplies<>());
      const bool rows =
          std::thread::hardware_concurrency() > 1 && y_shape.size() >= 4 && y_shape[2] >= 2;
      const bool pointwise =
          group == 1 && std::all_of(c.w.begin() + 2, c.w.end(), [](int64_t k) { return k == 1; }) &&
          (c.attrs.count("pads") == 0 ||
           std::ranges::all_of(std::get<std::vector<int64_t>>(c.attrs.at("pads")),
                               [](int64_t p) { return p == 0; }));
      if ((variant != "conv.onednn_split" || splits) &&
          (variant != "conv.pointwise_sgemm" || pointwise) &&
          (variant != "conv.onednn_blocked" || blocks) &&
          (variant != "conv.onednn_winograd" || winograd) &&
          (variant != "conv.onednn_blocked_rows" || (blocks && rows && weights <= image)) &&
          (variant != "conv.onednn_winograd_rows" || (winograd && rows && 4 * weights <= image))) {
        EXPECT_EQ(variant_nodes(*model, variant), 1u);
        // A oneDNN form holds the weights in its own layout (reordered
        // once, or per execute from a runtime input) in its prepared
        // state, counted by the plan; im2col + sgemm prepares nothing,
        // the pointwise product at most its gathered copy.
        uint64_t weight_bytes = sizeof(float);
        for (const int64_t d : c.w) weight_bytes *= static_cast<uint64_t>(d);
        if (variant.starts_with("conv.onednn")) {
          EXPECT_GE(testing::plugin_counter_or_zero(*model, "prepared_bytes"), weight_bytes);
        } else if (variant == "conv.im2col_sgemm") {
          EXPECT_EQ(testing::plugin_counter_or_zero(*model, "prepared_bytes"), 0u);
        } else {
          // The gathered copy of a strided node's input, [C, out positions].
          const uint64_t gathered = unit("strides")
                                        ? 0
                                        : sizeof(float) * static_cast<uint64_t>(c.x[1]) *
                                              std::accumulate(y_shape.begin() + 2, y_shape.end(),
                                                              uint64_t{1}, std::multiplies<>());
          const uint64_t prepared = testing::plugin_counter_or_zero(*model, "prepared_bytes");
          EXPECT_GE(prepared, gathered);
          EXPECT_LT(prepared, gathered + 64);  // rounded up to a cache line
        }
      }
    }
  }

  PluginRegistry registry_;
};

TEST_P(ConvVariants, ConstantWeightsMatchFloat64Reference) { check(false); }
TEST_P(ConvVariants, RuntimeWeightsMatchFloat64Reference) { check(true); }

INSTANTIATE_TEST_SUITE_P(Cpu, ConvVariants, ::testing::ValuesIn(testing::kConvVariants),
                         [](const auto& info) { return testing::test_name_of(info.param); });

}  // namespace
}  // namespace rtscope
