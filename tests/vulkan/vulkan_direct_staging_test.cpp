// Small host bindings (up to 4 KB) are used in the plan's staging buffer
// itself: an output its dispatch writes there (a decode step's next
// tokens), with no copy at the end of the execute and no barrier before
// one, and an input a single node reads (the tokens of an embedding), with
// no copy in and no barrier after it. Larger bindings, and an input that
// several nodes read, are copied as before. All match the float64
// reference.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

// y = a + b on f32[rows, 8].
Graph add_graph(int64_t rows) {
  return testing::GraphBuilder("direct_add")
      .input("a", DType::f32, {rows, 8})
      .input("b", DType::f32, {rows, 8})
      .node("sum", "add", {"a", "b"}, "y")
      .outputs({"y"})
      .build();
}

// y = relu(a) + b + a on f32[rows, 8]: `a` has two readers.
Graph two_readers_graph(int64_t rows) {
  return testing::GraphBuilder("two_readers")
      .input("a", DType::f32, {rows, 8})
      .input("b", DType::f32, {rows, 8})
      .node("relu", "relu", {"a"}, "c")
      .node("sum", "add", {"c", "b"}, "d")
      .node("sum2", "add", {"d", "a"}, "y")
      .outputs({"y"})
      .build();
}

// Barriers per execute, after three runs against the reference.
double barriers_per_execute(int64_t rows, std::unique_ptr<Model> model) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const std::map<std::string, Tensor> inputs = {
        {"a", Tensor::random(DType::f32, {rows, 8}, seed)},
        {"b", Tensor::random(DType::f32, {rows, 8}, seed + 10)}};
    const auto expected = testing::reference_outputs(model->graph(), inputs);
    EXPECT_LE(reference::closeness(model->run(inputs).at("y"), expected.at("y"), 1e-6, 1e-6), 1.0)
        << rows << " rows, seed " << seed;
  }
  const Module& module = *model->modules()[0];
  expect_no_validation_errors(*model);
  return static_cast<double>(counter(module, "barriers")) /
         static_cast<double>(counter(module, "executes"));
}

class VulkanDirectStaging : public VulkanTest {};

TEST_F(VulkanDirectStaging, SmallBindingsAreUsedInStaging) {
  // 128 bytes each: the add reads and writes staging; nothing waits.
  EXPECT_EQ(barriers_per_execute(4, build(add_graph(4))), 0.0);
}

TEST_F(VulkanDirectStaging, LargeBindingsAreCopied) {
  // 8 KB each: copies in, a barrier, the add, a barrier, the copy out.
  EXPECT_EQ(barriers_per_execute(256, build(add_graph(256))), 2.0);
}

TEST_F(VulkanDirectStaging, AnInputSeveralNodesReadIsCopiedIn) {
  // a copied in (b read in staging), a barrier, relu, a barrier, the
  // first add, a barrier, the second add writing staging.
  EXPECT_EQ(barriers_per_execute(4, build(two_readers_graph(4))), 3.0);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
