// nonzero and masked_select on the Vulkan plugin: its compaction kernel
// writes into a worst-case buffer, so the support query reports a
// runtime-sized output allocation for those nodes (not for nonzero with
// max_count). A data-dependent op between two matmuls with
// `backends: [vulkan, cpu]`: with fallback_data_dependent_ops the op runs
// on cpu (three partitions), without it the Vulkan engine runs as segments;
// both match the float64 reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan_test_support.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using vulkan_testing::counter;
using vulkan_testing::expect_no_validation_errors;

// x [6, 8] -> matmul(w1 [8, 5]) -> h [6, 5] -> masked_select(mask) -> s [n]
//   -> reshape [n, 1] -> matmul(w2 [1, 3]) -> y [n, 3]
// plus nonzero(h) -> idx [m, 2] (returned) and a padded nonzero (static).
Graph select_between_matmuls() {
  return testing::GraphBuilder("select_between_matmuls")
      .input("x", DType::f32, {6, 8})
      .input("mask", DType::boolean, {6, 5})
      .weight("w1", DType::f32, {8, 5}, testing::seeded_init(3, 0.5))
      .weight("w2", DType::f32, {1, 3}, testing::seeded_init(4, 0.5))
      .node("mm1", "matmul", {"x", "w1"}, "h")
      .node("relu", "relu", {"h"}, "r")
      .node("padded", "nonzero", {"r"}, "idx_padded", {{"max_count", int64_t{7}}})
      .node("sel", "masked_select", {"h", "mask"}, "s")
      .node("col", "reshape", {"s"}, "s2", {{"shape", std::vector<int64_t>{-1, 1}}})
      .node("mm2", "matmul", {"s2", "w2"}, "y")
      .node("nz", "nonzero", {"r"}, "idx")
      .outputs({"y", "idx", "idx_padded"})
      .build();
}

std::vector<std::string> partition_plugins(const Model& model) {
  std::vector<std::string> plugins;
  for (const Partition& p : model.partitions()) plugins.push_back(p.plugin);
  return plugins;
}

// Runs a few seeded inputs (random masks, so the counts vary) and checks
// every output against the reference.
void expect_reference(Model& model) {
  std::set<int64_t> counts;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const Tensor x = Tensor::random(DType::f32, {6, 8}, seed);
    const Tensor mask = Tensor::random(DType::boolean, {6, 5}, seed + 10, 1.0);
    const auto out = model.run({{"x", x}, {"mask", mask}});
    const auto expected = testing::reference_outputs(model.graph(), {{"x", x}, {"mask", mask}});
    EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-4, 1e-4), 1.0) << seed;
    for (const char* name : {"idx", "idx_padded"}) {
      const auto got = reference::RefTensor::from(out.at(name));
      EXPECT_EQ(got.shape, expected.at(name).shape) << name << " seed " << seed;
      EXPECT_EQ(got.data, expected.at(name).data) << name << " seed " << seed;
    }
    counts.insert(out.at("y").shape()[0]);
  }
  EXPECT_GT(counts.size(), 1u) << "the random masks should select different counts";
}

class VulkanDataDependent : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.load({.name = "cpu"});
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry_);
  }
  PluginRegistry registry_;
};

TEST_F(VulkanDataDependent, SupportQueryReportsOutputAllocationPerNode) {
  std::vector<NodePlacement> placements;
  partition_graph(select_between_matmuls(), registry_, {.backends = {"vulkan"}}, &placements);
  ASSERT_EQ(placements.size(), 7u);
  EXPECT_THAT(placements[2].reason, HasSubstr("vulkan.nonzero.compact_padded"));
  EXPECT_THAT(placements[3].reason, HasSubstr("vulkan.masked_select.compact"));
  EXPECT_THAT(placements[6].reason, HasSubstr("vulkan.nonzero.compact ("));
}

TEST_F(VulkanDataDependent, FallbackMovesOnlyTheDataDependentNodesToCpu) {
  auto model = Model::build(select_between_matmuls(), registry_,
                            {.backends = {"vulkan", "cpu"}, .fallback_data_dependent_ops = true});
  EXPECT_EQ(partition_plugins(*model),
            (std::vector<std::string>{"vulkan", "cpu", "vulkan", "cpu"}));
  EXPECT_EQ(model->placements()[2].plugin, "vulkan") << "the padded nonzero is static";
  EXPECT_EQ(model->placements()[3].plugin, "cpu");
  EXPECT_EQ(model->placements()[6].plugin, "cpu");
  expect_reference(*model);
  expect_no_validation_errors(*model);
}

TEST_F(VulkanDataDependent, WithoutFallbackTheVulkanEngineRunsAsSegments) {
  auto model = Model::build(select_between_matmuls(), registry_, {.backends = {"vulkan", "cpu"}});
  EXPECT_EQ(partition_plugins(*model), std::vector<std::string>{"vulkan"});
  expect_reference(*model);
  const Module& module = *model->modules()[0];
  // Cut after masked_select and after the last nonzero.
  EXPECT_EQ(counter(module, "segments"), 2u);
  EXPECT_EQ(counter(module, "data_dependent_syncs"), 6u);
  EXPECT_EQ(counter(module, "executes"), 3u);
  EXPECT_EQ(counter(module, "validation_enabled"), 1u);
  expect_no_validation_errors(*model);
}

// The graph the issue names: one data-dependent op between two matmuls.
TEST_F(VulkanDataDependent, DataDependentOpBetweenTwoMatmulsSplitsIntoThreePartitions) {
  const Graph g = testing::GraphBuilder("between_matmuls")
                      .input("x", DType::f32, {4, 6})
                      .input("mask", DType::boolean, {4, 3})
                      .weight("w1", DType::f32, {6, 3}, testing::seeded_init(8, 0.5))
                      .weight("w2", DType::f32, {1, 2}, testing::seeded_init(9, 0.5))
                      .node("mm1", "matmul", {"x", "w1"}, "h")
                      .node("sel", "masked_select", {"h", "mask"}, "s")
                      .node("col", "reshape", {"s"}, "s2", {{"shape", std::vector<int64_t>{-1, 1}}})
                      .node("mm2", "matmul", {"s2", "w2"}, "y")
                      .outputs({"y"})
                      .build();
  for (const bool fallback : {true, false}) {
    auto model = Model::build(
        g, registry_, {.backends = {"vulkan", "cpu"}, .fallback_data_dependent_ops = fallback});
    if (fallback) {
      EXPECT_EQ(partition_plugins(*model), (std::vector<std::string>{"vulkan", "cpu", "vulkan"}));
    } else {
      EXPECT_EQ(partition_plugins(*model), std::vector<std::string>{"vulkan"});
    }
    for (uint64_t seed = 21; seed <= 23; ++seed) {
      const Tensor x = Tensor::random(DType::f32, {4, 6}, seed);
      const Tensor mask = Tensor::random(DType::boolean, {4, 3}, seed + 5, 1.0);
      const auto out = model->run({{"x", x}, {"mask", mask}});
      const auto expected = testing::reference_outputs(model->graph(), {{"x", x}, {"mask", mask}});
      EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-4, 1e-4), 1.0)
          << "fallback " << fallback << " seed " << seed;
    }
    expect_no_validation_errors(*model);
  }
}

TEST_F(VulkanDataDependent, EveryDtypeAndEmptyResultsMatchTheReference) {
  for (const DType dtype : {DType::f32, DType::f16, DType::i32, DType::i64, DType::boolean}) {
    auto model = Model::build(testing::GraphBuilder("select_dtypes")
                                  .input("x", dtype, {3, 7})
                                  .input("mask", DType::boolean, {3, 7})
                                  .node("nz", "nonzero", {"x"}, "idx")
                                  .node("sel", "masked_select", {"x", "mask"}, "picked")
                                  .outputs({"idx", "picked"})
                                  .build(),
                              registry_, {.backends = {"vulkan"}});
    const bool integer = dtype == DType::i32 || dtype == DType::i64 || dtype == DType::boolean;
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      // Integers in [0, 2] and seeded floats: some elements are zero.
      Tensor x = Tensor::random(dtype, {3, 7}, seed, integer ? 2.0 : 1.0);
      if (!integer) {
        for (int i = static_cast<int>(seed); i < 21; i += 4) {
          if (dtype == DType::f32) x.data_as<float>()[i] = 0.0f;
          if (dtype == DType::f16) x.data_as<uint16_t>()[i] = 0x8000;  // -0
        }
      }
      // The last seed selects nothing.
      const Tensor mask = seed == 3 ? Tensor::zeros(DType::boolean, {3, 7})
                                    : Tensor::random(DType::boolean, {3, 7}, seed + 3, 1.0);
      const auto out = model->run({{"x", x}, {"mask", mask}});
      const auto expected = testing::reference_outputs(model->graph(), {{"x", x}, {"mask", mask}});
      for (const char* name : {"idx", "picked"}) {
        const auto got = reference::RefTensor::from(out.at(name));
        EXPECT_EQ(got.shape, expected.at(name).shape) << to_string(dtype) << " " << name;
        EXPECT_EQ(got.data, expected.at(name).data) << to_string(dtype) << " " << name;
      }
      if (seed == 3) {
        EXPECT_EQ(out.at("picked").shape(), (Shape{0}));
      }
    }
    expect_no_validation_errors(*model);
  }
}

}  // namespace
}  // namespace rtscope
