// How a plan orders its dispatches: by dependency level, so independent
// work shares the stretch between two barriers, and a transpose that keeps
// the memory order for the bound shapes is a view that runs nothing.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

SymShape fixed(const Shape& shape) {
  SymShape sym;
  for (int64_t d : shape) sym.push_back(Dim::fixed(d));
  return sym;
}

void expect_matches_reference(Model& model, const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, reference::RefTensor> ref_inputs;
  for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
  std::map<std::string, reference::RefTensor> states;
  const auto expected = reference::run_graph(model.graph(), ref_inputs, states);
  const auto outputs = model.run(inputs);
  for (const auto& [name, value] : expected) {
    EXPECT_LE(reference::closeness(outputs.at(name), value, 1e-6, 1e-6), 1.0) << name;
  }
}

// Two chains of two dependent nodes each, listed chain after chain:
// a1 = relu(a), a2 = silu(a1), b1 = relu(b), b2 = silu(b1).
Graph two_chains() {
  Graph g;
  g.name = "chains";
  g.loc = {"test:chains", 0, 0};
  g.inputs.push_back({"a", {DType::f32, fixed({64, 32})}, g.loc});
  g.inputs.push_back({"b", {DType::f32, fixed({64, 32})}, g.loc});
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
  g.inputs.push_back({"x", {DType::f32, fixed(x_shape)}, g.loc});
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

}  // namespace
}  // namespace rtscope::vulkan_testing
