// One model over two plugins without a GPU: `backends: [testing, cpu]`
// with a data-dependent op in the middle. The testing plugin's nonzero
// kernel needs a runtime-sized output; with fallback_data_dependent_ops
// cpu takes it, splitting the model into testing, cpu, testing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using ::testing::Each;
using ::testing::Eq;

// x [16] -> scale -> a -> nonzero -> idx [n, 1] -> embedding(table) -> e [n, 1, 4] -> relu -> y
// The testing plugin has scale, nonzero and relu; only cpu has embedding.
Graph data_dependent_chain() {
  return testing::GraphBuilder("chain")
      .input("x", DType::f32, {16})
      .weight("table", DType::f32, {16, 4}, testing::seeded_init(5, 1.0))
      .node("scale", "scale", {"x"}, "a", {{"factor", 2.0}})
      .node("nz", "nonzero", {"a"}, "idx")
      .node("embed", "embedding", {"table", "idx"}, "e")
      .node("relu", "relu", {"e"}, "y")
      .outputs({"y", "idx"})
      .build();
}

// Seeded values with every third element exactly zero.
Tensor input_with_zeros(uint64_t seed) {
  Tensor x = Tensor::random(DType::f32, {16}, seed);
  for (int i = static_cast<int>(seed % 3); i < 16; i += 3) x.data_as<float>()[i] = 0.0f;
  return x;
}

void expect_reference(Model& model, const Tensor& x) {
  const auto out = model.run({{"x", x}});
  const auto expected = testing::reference_outputs(model.graph(), {{"x", x}});
  EXPECT_EQ(reference::RefTensor::from(out.at("idx")).data, expected.at("idx").data);
  EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-6, 1e-6), 1.0);
}

std::vector<std::string> partition_plugins(const Model& model) {
  std::vector<std::string> plugins;
  for (const Partition& p : model.partitions()) plugins.push_back(p.plugin);
  return plugins;
}

using MultiBackendModel = testing::TestingAndCpu;

TEST_F(MultiBackendModel, FallbackMovesTheDataDependentNodeToCpuAcrossThreePartitions) {
  auto model = Model::build(data_dependent_chain(), registry_,
                            {.backends = {"testing", "cpu"}, .fallback_data_dependent_ops = true});
  EXPECT_EQ(partition_plugins(*model), (std::vector<std::string>{"testing", "cpu", "testing"}));
  EXPECT_EQ(model->placements()[1].plugin, "cpu");
  EXPECT_EQ(model->partitions()[1].inputs, std::vector<std::string>{"a"});
  EXPECT_EQ(model->partitions()[2].inputs, std::vector<std::string>{"e"});
  for (uint64_t seed = 1; seed <= 3; ++seed) expect_reference(*model, input_with_zeros(seed));

  // Per run: a crosses testing -> cpu and e crosses cpu -> testing.
  const ModelStats stats = model->stats();
  EXPECT_EQ(stats.runs, 3u);
  EXPECT_EQ(stats.partition_crossings, 6u);
  EXPECT_GT(stats.crossing_bytes, 3u * 16 * sizeof(float));
}

TEST_F(MultiBackendModel, WithoutFallbackTheDataDependentNodeStaysOnItsFirstBackend) {
  auto model = Model::build(data_dependent_chain(), registry_, {.backends = {"testing", "cpu"}});
  EXPECT_EQ(model->placements()[1].plugin, "testing");
  EXPECT_EQ(partition_plugins(*model), (std::vector<std::string>{"testing", "cpu", "testing"}));
  EXPECT_EQ(model->partitions()[1].inputs, std::vector<std::string>{"idx"});
  for (uint64_t seed = 4; seed <= 6; ++seed) expect_reference(*model, input_with_zeros(seed));
  EXPECT_EQ(model->stats().partition_crossings, 6u);
}

TEST_F(MultiBackendModel, RuntimeConfigChangesAndRestoresTheModulesOfBothPlugins) {
  auto model = Model::build(data_dependent_chain(), registry_,
                            {.backends = {"testing", "cpu"}, .fallback_data_dependent_ops = true});
  const std::vector<Module*> modules = model->modules();
  ASSERT_EQ(modules.size(), 3u);
  std::vector<RuntimeSettings> before;
  for (Module* m : modules) before.push_back(m->runtime_settings());
  ASSERT_THAT(before, Each(Eq(RuntimeSettings{})));
  {
    auto config = runtime_config(
        *model, {{"kernel_specialization", "none"}, {"graph_capture", "whole_graph"}});
    for (Module* m : modules) {
      EXPECT_EQ(m->runtime_settings().kernel_specialization, KernelSpecialization::none)
          << m->name();
      EXPECT_EQ(m->runtime_settings().graph_capture, GraphCapture::whole_graph) << m->name();
    }
    // Every module runs under the scope: the cpu one eagerly, since its
    // nonzero changes shapes between runs.
    expect_reference(*model, input_with_zeros(7));
    expect_reference(*model, input_with_zeros(8));
    EXPECT_EQ(modules[1]->stats().plugin_counters.at("eager_instead_of_capture"), 2u);
  }
  for (std::size_t m = 0; m < modules.size(); ++m) {
    EXPECT_EQ(modules[m]->runtime_settings(), before[m]) << modules[m]->name();
  }
  expect_reference(*model, input_with_zeros(9));
}

}  // namespace
}  // namespace rtscope
