// Elementwise chains in the CPU plugin's capture (plugins/cpu/capture_chain.hpp):
// a chain of add, sub (either side), mul, scale and relu replays as one
// step, against the float64 reference and bit for bit against the eager
// plan, at sizes with and without a tail of fewer than 16 elements; a
// value read outside the chain, an engine output between members, a node
// reading the running value twice and a tensor too large to run inline
// each keep their nodes apart, and still give the reference's values.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "support/cpu_variants.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using testing::GraphBuilder;
using testing::plugin_counter_or_zero;

constexpr double kTolerance = 1e-5;

// x -> add w1 -> mul w2 -> relu -> sub (w3 - h) -> scale 0.75 -> sub (h - w1)
//   -> mul (w2 * h) -> relu -> add (w3 + h) -> y: every op, both sides.
GraphBuilder chain_graph(const std::string& name, int64_t n) {
  GraphBuilder g(name);
  g.input("x", DType::f32, {n})
      .weight("w1", DType::f32, {n}, testing::seeded_init(1, 0.5))
      .weight("w2", DType::f32, {n}, testing::seeded_init(2, 0.5, 1.0))
      .weight("w3", DType::f32, {n}, testing::seeded_init(3, 0.5))
      .node("a", "add", {"x", "w1"}, "h0")
      .node("b", "mul", {"h0", "w2"}, "h1")
      .node("c", "relu", {"h1"}, "h2")
      .node("d", "sub", {"w3", "h2"}, "h3")
      .node("e", "scale", {"h3"}, "h4", {{"factor", 0.75}})
      .node("f", "sub", {"h4", "w1"}, "h5")
      .node("g", "mul", {"w2", "h5"}, "h6")
      .node("h", "relu", {"h6"}, "h7")
      .node("i", "add", {"w3", "h7"}, "y");
  return g;
}

class CaptureChain : public ::testing::Test {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }

  // Runs `graph` eagerly and captured (recording, then three replays) on
  // seeded input; checks both against the reference and each other; returns
  // the capture's step count.
  uint64_t run_both(const Graph& graph, int64_t n, const char* specialization = "eager") {
    auto eager = Model::build(graph, registry_, {.backends = {"cpu"}});
    auto captured = Model::build(graph, registry_, {.backends = {"cpu"}});
    auto config = runtime_config(*eager, {{"kernel_specialization", specialization}});
    auto capture = runtime_config(
        *captured, {{"kernel_specialization", specialization}, {"graph_capture", "whole_graph"}});
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      const std::map<std::string, Tensor> inputs{{"x", Tensor::random(DType::f32, {n}, 40 + seed)}};
      const auto expected = testing::expect_matches_reference(*eager, inputs, kTolerance);
      const auto replayed = testing::expect_matches_reference(*captured, inputs, kTolerance);
      for (const auto& [name, tensor] : expected) {
        EXPECT_EQ(replayed.at(name).to_doubles(), tensor.to_doubles())
            << name << ": the capture must give the eager plan's floats";
      }
    }
    EXPECT_EQ(plugin_counter_or_zero(*captured, "records"), 1u);
    EXPECT_EQ(plugin_counter_or_zero(*captured, "replays"), 3u);
    EXPECT_EQ(plugin_counter_or_zero(*captured, "kernel_runs"), 4u * graph.nodes.size())
        << "a chained node still counts as a kernel run";
    return plugin_counter_or_zero(*captured, "capture_steps");
  }

  PluginRegistry registry_;
};

TEST_F(CaptureChain, WholeChainIsOneStepAtEverySize) {
  // 16: one block; 37: two blocks and a tail of 5; 3: the tail alone.
  for (int64_t n : {16, 37, 3}) {
    SCOPED_TRACE("f32[" + std::to_string(n) + "]");
    EXPECT_EQ(run_both(chain_graph("chain", n).outputs({"y"}).build(), n), 1u);
  }
}

TEST_F(CaptureChain, ValueReadOutsideTheChainEndsIt) {
  // h2 is also read by z, after the chain; h4 is an engine output: the
  // chain stops after each, so a..c, d..e and f..i with z are three steps,
  // and z reads the h2 the first one stored.
  Graph graph =
      chain_graph("split", 24).node("z", "add", {"h2", "y"}, "z").outputs({"z", "h4"}).build();
  EXPECT_EQ(run_both(graph, 24), 3u);
}

TEST_F(CaptureChain, NodeReadingTheRunningValueTwiceIsNotChained) {
  Graph graph = GraphBuilder("square")
                    .input("x", DType::f32, {20})
                    .node("a", "scale", {"x"}, "h0", {{"factor", 1.5}})
                    .node("b", "relu", {"h0"}, "h1")
                    .node("c", "mul", {"h1", "h1"}, "h2")
                    .node("d", "scale", {"h2"}, "h3", {{"factor", -0.5}})
                    .node("e", "relu", {"h3"}, "y")
                    .outputs({"y"})
                    .build();
  // h1 has two reads, so a..b ends there and stores it; c starts the next
  // chain, reading h1 as both of its inputs.
  EXPECT_EQ(run_both(graph, 20), 2u) << "a..b, then c..e";
}

TEST_F(CaptureChain, TensorLargerThanOneTaskRunsNodeByNode) {
  // Above the elementwise kernels' default grain; unspecialized, so no
  // tuned grain can make it one task.
  constexpr int64_t kLarge = 64 * 1024;
  Graph graph = GraphBuilder("large")
                    .input("x", DType::f32, {kLarge})
                    .node("a", "scale", {"x"}, "h0", {{"factor", 1.5}})
                    .node("b", "relu", {"h0"}, "y")
                    .outputs({"y"})
                    .build();
  EXPECT_EQ(run_both(graph, kLarge, "none"), 2u);
}

}  // namespace
}  // namespace rtscope
