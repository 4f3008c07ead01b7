// Convolutions with their relu and residual add fused into the kernel
// (plugins/cpu/fusion.hpp: relu(conv), r + conv, relu(r + conv)), as a
// ResNet block has them, with each conv kernel forced: against the float64
// reference, eager and captured, and unfused (RTSCOPE_CPU_FUSION=0) on the
// same inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "support/cpu_variants.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using testing::EnvGuard;
using testing::f32_value;
using testing::plugin_counter_or_zero;

WeightInit seeded(uint64_t seed) { return {WeightInit::Kind::seeded, seed, 0.2, 0.0, {}}; }

AttrMap pads1() { return {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}; }

// Images larger than the weights, so that row slices are offered too.
constexpr int64_t kBatch = 1, kIn = 16, kOut = 32, kH = 36, kW = 32;

// A ResNet block with a downsampling shortcut, then a plain residual:
//   a  = relu(conv(x, w1, b1))                       conv + relu
//   y1 = relu(conv(a, w2) + conv(x, wd, bd))         conv + add + relu
//   y2 = z + conv(y1, w3, b3)                        conv + add
Graph block_graph() {
  Graph g;
  g.name = "conv_block";
  g.inputs.push_back({"x", f32_value({kBatch, kIn, kH, kW}), {}});
  g.inputs.push_back({"z", f32_value({kBatch, kOut, kH, kW}), {}});
  g.weights.push_back({{"w1", f32_value({kOut, kIn, 3, 3}), {}}, seeded(1)});
  g.weights.push_back({{"b1", f32_value({kOut}), {}}, seeded(2)});
  g.weights.push_back({{"w2", f32_value({kOut, kOut, 3, 3}), {}}, seeded(3)});
  g.weights.push_back({{"wd", f32_value({kOut, kIn, 1, 1}), {}}, seeded(4)});
  g.weights.push_back({{"bd", f32_value({kOut}), {}}, seeded(5)});
  g.weights.push_back({{"w3", f32_value({kOut, kOut, 3, 3}), {}}, seeded(6)});
  g.weights.push_back({{"b3", f32_value({kOut}), {}}, seeded(7)});
  g.nodes = {
      {"c1", "conv", {"x", "w1", "b1"}, {"c1o"}, pads1(), {}},
      {"r1", "relu", {"c1o"}, {"a"}, {}, {}},
      {"c2", "conv", {"a", "w2"}, {"c2o"}, pads1(), {}},
      {"ds", "conv", {"x", "wd", "bd"}, {"dso"}, {}, {}},
      {"sum", "add", {"c2o", "dso"}, {"s"}, {}, {}},
      {"out", "relu", {"s"}, {"y1"}, {}, {}},
      {"c3", "conv", {"y1", "w3", "b3"}, {"c3o"}, pads1(), {}},
      {"res", "add", {"z", "c3o"}, {"y2"}, {}, {}},
  };
  g.outputs = {"y1", "y2"};
  validate(g);
  return g;
}

class CpuConvFusion : public testing::WithCpuPlugin<::testing::TestWithParam<const char*>> {};

// The forced kernels: the parameter, and where it runs only the 1x1
// shortcut, im2col + sgemm for the 3x3 convolutions, so that a fused and
// an unfused model run the same kernels (tuned, they might pick two).
std::string forced_kernels(const std::string& variant) {
  return variant == "conv.pointwise_sgemm" ? variant + ",conv.im2col_sgemm" : variant;
}

TEST_P(CpuConvFusion, BlockMatchesFloat64Reference) {
  const std::string variant = GetParam();
  const testing::ForcedVariant forced(forced_kernels(variant));
  const Graph graph = block_graph();
  uint64_t seed = 70;
  for (const char* capture : {"disabled", "whole_graph"}) {
    auto model = Model::build(graph, *registry_, {.backends = {"cpu"}});
    auto config =
        runtime_config(*model, {{"kernel_specialization", "eager"}, {"graph_capture", capture}});
    for (int round = 0; round < 2; ++round) {  // a capture records, then replays
      const std::map<std::string, Tensor> inputs = {
          {"x", Tensor::random(DType::f32, {kBatch, kIn, kH, kW}, ++seed)},
          {"z", Tensor::random(DType::f32, {kBatch, kOut, kH, kW}, ++seed)}};
      const auto out = model->run(inputs);
      const auto expected = testing::reference_outputs(graph, inputs);
      for (const char* name : {"y1", "y2"}) {
        EXPECT_LE(reference::closeness(out.at(name), expected.at(name), 1e-4, 1e-4), 1.0)
            << capture << " round " << round << " " << name;
      }
    }
    EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"), 3u) << capture;
    // The forced kernel ran the groups' convolutions where it is offered
    // (Winograd: the 3x3 ones; the pointwise product: the 1x1 shortcut).
    const uint64_t expected_nodes = variant.starts_with("conv.onednn_winograd") ? 3u
                                    : variant == "conv.pointwise_sgemm"         ? 1u
                                                                                : 4u;
    EXPECT_EQ(testing::variant_nodes(*model, variant), expected_nodes) << capture;
  }
}

TEST_P(CpuConvFusion, UnfusedGivesTheSameFloats) {
  const testing::ForcedVariant forced(forced_kernels(GetParam()));
  const Graph graph = block_graph();
  const std::map<std::string, Tensor> inputs = {
      {"x", Tensor::random(DType::f32, {kBatch, kIn, kH, kW}, 90)},
      {"z", Tensor::random(DType::f32, {kBatch, kOut, kH, kW}, 91)}};
  std::map<std::string, Tensor> fused, unfused;
  for (const char* fusion : {"1", "0"}) {
    const EnvGuard guard("RTSCOPE_CPU_FUSION", fusion);
    auto model = Model::build(graph, *registry_, {.backends = {"cpu"}});
    auto config = runtime_config(*model, {{"kernel_specialization", "eager"}});
    (std::string(fusion) == "1" ? fused : unfused) = model->run(inputs);
    EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"), std::string(fusion) == "1" ? 3u : 0u);
  }
  // The epilogue does the unfused ops' arithmetic on the same conv output.
  // oneDNN's Winograd convolution is not bitwise reproducible between two
  // primitive instances in the sanitizer builds (sums a few ulps apart);
  // there the outputs must agree to float rounding.
  const bool winograd = std::string(GetParam()).starts_with("conv.onednn_winograd");
  for (const char* name : {"y1", "y2"}) {
    const std::vector<double> a = fused.at(name).to_doubles();
    const std::vector<double> b = unfused.at(name).to_doubles();
    if (!winograd) {
      EXPECT_EQ(a, b) << name;
      continue;
    }
    ASSERT_EQ(a.size(), b.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_NEAR(a[i], b[i], 4e-6 * std::max(1.0, std::abs(b[i]))) << name << "[" << i << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, CpuConvFusion, ::testing::ValuesIn(testing::kConvVariants),
                         [](const auto& info) { return testing::test_name_of(info.param); });

}  // namespace
}  // namespace rtscope
