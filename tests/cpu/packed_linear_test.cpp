// linear on weights packed once per plan (oneDNN's matmul primitive),
// forced with RTSCOPE_CPU_FORCE_VARIANT: against the float64 reference at
// batched-decode and prefill rows with odd widths, with and without bias,
// on the calling thread and in column blocks over the pool, eager and
// replayed; the packed bytes show in the plugin's memory counters; weights
// that are not constants never pack, and neither does a one-row product.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
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

struct LinearCase {
  int64_t rows, k, n;
  bool bias;
};

// y = x · W (+ b), W (and b) seeded weights, or W an input when
// `weights_as_input`.
Graph linear_graph(const LinearCase& c, bool weights_as_input = false) {
  Graph g;
  g.name = "packed_linear";
  g.inputs.push_back({"x", f32_value({c.rows, c.k}), {}});
  if (weights_as_input) {
    g.inputs.push_back({"w", f32_value({c.k, c.n}), {}});
  } else {
    g.weights.push_back(
        {{"w", f32_value({c.k, c.n}), {}}, {WeightInit::Kind::seeded, 11, 0.5, 0.0, {}}});
  }
  std::vector<std::string> inputs = {"x", "w"};
  if (c.bias) {
    g.weights.push_back(
        {{"b", f32_value({c.n}), {}}, {WeightInit::Kind::seeded, 12, 0.5, 0.0, {}}});
    inputs.push_back("b");
  }
  g.nodes = {{"proj", "linear", inputs, {"y"}, {}, {}}};
  g.outputs = {"y"};
  validate(g);
  return g;
}

class PackedLinear : public testing::WithCpuPlugin<::testing::TestWithParam<const char*>> {};

TEST_P(PackedLinear, MatchesFloat64Reference) {
  const std::string variant = GetParam();
  const EnvGuard forced("RTSCOPE_CPU_FORCE_VARIANT", variant);
  const bool split = variant == "linear.onednn_packed_split_n";
  const LinearCase cases[] = {{2, 37, 129, true},   {4, 256, 1024, false}, {3, 1, 130, true},
                              {5, 256, 300, false}, {16, 513, 257, true},  {16, 96, 7, true}};
  for (const LinearCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.rows << "x" << c.k << "x" << c.n << " bias " << c.bias);
    const Graph graph = linear_graph(c);
    auto model = Model::build(graph, *registry_, {.backends = {"cpu"}});
    for (const char* capture : {"disabled", "whole_graph"}) {
      auto config =
          runtime_config(*model, {{"kernel_specialization", "eager"}, {"graph_capture", capture}});
      for (uint64_t seed : {1, 2}) {
        const std::map<std::string, Tensor> inputs = {
            {"x", Tensor::random(DType::f32, {c.rows, c.k}, 100 * seed + c.k)}};
        const Tensor y = model->run(inputs).at("y");
        const auto expected = testing::reference_outputs(graph, inputs);
        EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-5, 1e-5), 1.0) << capture;
      }
      // Column blocks over the pool are a candidate from 128 columns on,
      // with more than one pool thread.
      if (!split || (c.n >= 128 && std::thread::hardware_concurrency() > 1)) {
        EXPECT_EQ(plugin_counter_or_zero(*model, "variant." + variant), 1u) << capture;
        // The packed copy of the weights is held by the plan.
        EXPECT_GE(plugin_counter_or_zero(*model, "prepared_bytes"),
                  static_cast<uint64_t>(c.k * c.n) * sizeof(float))
            << capture;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, PackedLinear,
                         ::testing::Values("linear.onednn_packed", "linear.onednn_packed_split_n"),
                         [](const auto& info) { return testing::test_name_of(info.param); });

// Weights bound per execute could change between runs: the packed
// candidate is not offered, even when forced, and nothing is prepared.
TEST_F(PackedLinear, WeightsThatAreInputsAreNeverPacked) {
  const EnvGuard forced("RTSCOPE_CPU_FORCE_VARIANT", "linear.onednn_packed");
  const LinearCase c{2, 64, 160, true};
  const Graph graph = linear_graph(c, /*weights_as_input=*/true);
  auto model = Model::build(graph, *registry_, {.backends = {"cpu"}});
  auto config = runtime_config(*model, {{"kernel_specialization", "eager"}});
  for (uint64_t seed : {1, 2}) {
    const std::map<std::string, Tensor> inputs = {
        {"x", Tensor::random(DType::f32, {c.rows, c.k}, 10 + seed)},
        {"w", Tensor::random(DType::f32, {c.k, c.n}, 20 + seed)}};
    const Tensor y = model->run(inputs).at("y");
    const auto expected = testing::reference_outputs(graph, inputs);
    EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-5, 1e-5), 1.0) << "seed " << seed;
  }
  EXPECT_EQ(plugin_counter_or_zero(*model, "variant.linear.onednn_packed"), 0u);
  EXPECT_EQ(plugin_counter_or_zero(*model, "prepared_bytes"), 0u);
}

// Two products of the same shapes, one on constant weights and one on
// weights bound per execute: whatever tuning picks for the first (packed
// weights win at these shapes) never reaches the second through the
// tuner's memory of equal shapes.
TEST_F(PackedLinear, SameShapesWithInputWeightsNeverReusePackedChoice) {
  Graph g;
  g.name = "constant_and_input_weights";
  g.inputs.push_back({"x", f32_value({4, 256}), {}});
  g.inputs.push_back({"w_in", f32_value({256, 1024}), {}});
  g.weights.push_back(
      {{"w", f32_value({256, 1024}), {}}, {WeightInit::Kind::seeded, 13, 0.5, 0.0, {}}});
  g.nodes = {{"constant", "linear", {"x", "w"}, {"a"}, {}, {}},
             {"bound", "linear", {"x", "w_in"}, {"b"}, {}, {}}};
  g.outputs = {"a", "b"};
  validate(g);
  auto model = Model::build(g, *registry_, {.backends = {"cpu"}});
  auto config = runtime_config(*model, {{"kernel_specialization", "eager"}});
  for (uint64_t seed : {1, 2}) {
    const std::map<std::string, Tensor> inputs = {
        {"x", Tensor::random(DType::f32, {4, 256}, 30 + seed)},
        {"w_in", Tensor::random(DType::f32, {256, 1024}, 40 + seed)}};
    const auto out = model->run(inputs);
    const auto expected = testing::reference_outputs(g, inputs);
    for (const char* name : {"a", "b"}) {
      EXPECT_LE(reference::closeness(out.at(name), expected.at(name), 1e-5, 1e-5), 1.0)
          << name << " seed " << seed;
    }
  }
  EXPECT_LE(plugin_counter_or_zero(*model, "variant.linear.onednn_packed") +
                plugin_counter_or_zero(*model, "variant.linear.onednn_packed_split_n"),
            1u);
}

// A one-row product (a decode step) keeps the kernels that allocate
// nothing per call: oneDNN's primitive execute does.
TEST_F(PackedLinear, OneRowIsNotPacked) {
  const EnvGuard forced("RTSCOPE_CPU_FORCE_VARIANT", "linear.onednn_packed");
  const LinearCase c{1, 256, 1024, true};
  const Graph graph = linear_graph(c);
  auto model = Model::build(graph, *registry_, {.backends = {"cpu"}});
  auto config = runtime_config(*model, {{"kernel_specialization", "eager"}});
  const std::map<std::string, Tensor> inputs = {
      {"x", Tensor::random(DType::f32, {c.rows, c.k}, 5)}};
  const Tensor y = model->run(inputs).at("y");
  const auto expected = testing::reference_outputs(graph, inputs);
  EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-5, 1e-5), 1.0);
  EXPECT_EQ(plugin_counter_or_zero(*model, "variant.linear.onednn_packed"), 0u);
  EXPECT_EQ(plugin_counter_or_zero(*model, "prepared_bytes"), 0u);
}

}  // namespace
}  // namespace rtscope
