// Partitioning across plugins in priority order, on CI without a GPU:
// the testing plugin takes elementwise ops, the cpu plugin the rest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/error_of.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

// x -> scale -> softmax -> relu -> add(x) -> y
Graph mixed_graph() {
  return testing::GraphBuilder("mixed")
      .input("x", DType::f32, {4, 8})
      .node("scale", "scale", {"x"}, "a", {{"factor", 0.5}})
      .node("softmax", "softmax", {"a"}, "b")
      .node("relu", "relu", {"b"}, "c")
      .node("add", "add", {"c", "x"}, "y")
      .outputs({"y"})
      .build();
}

using PartitionTest = testing::TestingAndCpu;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST_F(PartitionTest, OnePluginYieldsOnePartition) {
  auto model = Model::build(mixed_graph(), registry_, {.backends = {"cpu"}});
  ASSERT_EQ(model->partitions().size(), 1u);
  EXPECT_EQ(model->partitions()[0].nodes.size(), 4u);
  EXPECT_EQ(model->partitions()[0].inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(model->partitions()[0].outputs, std::vector<std::string>{"y"});
}

TEST_F(PartitionTest, PriorityOrderSplitsIntoContiguousRunsAndStillComputesCorrectly) {
  auto model = Model::build(mixed_graph(), registry_, {.backends = {"testing", "cpu"}});
  ASSERT_EQ(model->partitions().size(), 3u);
  EXPECT_EQ(model->partitions()[0].plugin, "testing");
  EXPECT_EQ(model->partitions()[1].plugin, "cpu");
  EXPECT_EQ(model->partitions()[2].plugin, "testing");
  EXPECT_EQ(model->partitions()[2].inputs, (std::vector<std::string>{"b", "x"}));
  ASSERT_EQ(model->placements().size(), 4u);
  EXPECT_EQ(model->placements()[1].plugin, "cpu");

  Tensor x = Tensor::random(DType::f32, {4, 8}, 8);
  const auto out = model->run({{"x", x}});
  const auto expected = testing::reference_outputs(model->graph(), {{"x", x}});
  EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-5, 1e-5), 1.0);
}

TEST_F(PartitionTest, RequireFullCompilationNamesTheNodesTheFirstBackendRefuses) {
  EXPECT_THAT(testing::error_of([&] {
                Model::build(mixed_graph(), registry_,
                             {.backends = {"testing", "cpu"}, .require_full_compilation = true});
              }),
              AllOf(HasSubstr("require_full_compilation"), HasSubstr("softmax (softmax)")));
}

TEST_F(PartitionTest, FallbackWithFullCompilationIsAConflict) {
  EXPECT_THAT(testing::error_of([&] {
                Model::build(mixed_graph(), registry_,
                             {.backends = {"cpu"},
                              .fallback_data_dependent_ops = true,
                              .require_full_compilation = true});
              }),
              HasSubstr("conflict"));
}

TEST_F(PartitionTest, NodeNoBackendSupportsIsNamedWithEachRefusal) {
  EXPECT_THAT(
      testing::error_of([&] { Model::build(mixed_graph(), registry_, {.backends = {"testing"}}); }),
      AllOf(HasSubstr("'softmax'"), HasSubstr("no backend"), HasSubstr("testing:")));
}

}  // namespace
}  // namespace rtscope
