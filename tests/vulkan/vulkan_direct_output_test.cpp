// Small host outputs (up to 4 KB, a decode step's next tokens) are written
// by their dispatch straight into the plan's staging buffer: no copy at the
// end of the execute and no barrier before one. Larger outputs are copied
// there as before. Both match the float64 reference.
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

// Barriers per execute of the add, after three runs against the reference.
double barriers_per_execute(VulkanTest& test, int64_t rows, std::unique_ptr<Model> model) {
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

class VulkanDirectOutput : public VulkanTest {};

TEST_F(VulkanDirectOutput, ASmallHostOutputIsWrittenIntoStaging) {
  // 128 bytes: inputs copied in, one barrier, the add writes staging.
  EXPECT_EQ(barriers_per_execute(*this, 4, build(add_graph(4))), 1.0);
}

TEST_F(VulkanDirectOutput, ALargeHostOutputIsCopiedOut) {
  // 8 KB: the add writes device memory, then a barrier and the copy out.
  EXPECT_EQ(barriers_per_execute(*this, 256, build(add_graph(256))), 2.0);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
