// Whether the Vulkan device runs linear projections on matvec_t (it stores
// linear weights as [N, K] only with subgroup arithmetic): the fusions into
// matvec_t exist only there.
#pragma once

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {

// A lone projection with a residual add runs as one dispatch on matvec_t.
inline bool device_runs_matvec_t(PluginRegistry& registry) {
  constexpr int64_t k = 64;
  Graph g;
  g.name = "matvec_t_probe";
  g.loc = {"test:matvec_t_probe", 0, 0};
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(1), Dim::fixed(k)}}, g.loc});
  g.weights.push_back({{"w", {DType::f32, {Dim::fixed(k), Dim::fixed(k)}}, g.loc}, WeightInit{}});
  g.nodes.push_back(Node{"proj", "linear", {"x", "w"}, {"p"}, {}, g.loc});
  g.nodes.push_back(Node{"skip", "add", {"x", "p"}, {"y"}, {}, g.loc});
  g.outputs = {"y"};
  validate(g);
  auto model = Model::build(std::move(g), registry, {.backends = {"vulkan"}});
  model->run({{"x", Tensor::random(DType::f32, {1, k}, 3)}});
  return counter(*model->modules()[0], "fused_residual_adds") == 1;
}

}  // namespace rtscope::vulkan_testing
