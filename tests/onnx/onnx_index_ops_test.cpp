// ONNX Mod, TopK, ScatterElements and GatherND imported and run on cpu
// against the float64 reference of the imported graph, and index
// initializers a file may hold that are out of range: each is one error
// line naming the node, at import (TopK's K) or when the model runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::OnnxModelBuilder;

std::unique_ptr<Model> build_on_cpu(Graph graph, PluginRegistry& registry) {
  registry.load({.name = "cpu"});
  return Model::build(std::move(graph), registry, {.backends = {"cpu"}});
}

std::string one_line_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "no error";
  return {};
}

// x [3, 5], u [3, 2] -> ScatterElements (negative and repeated indices)
// -> TopK (smallest 2); GatherND of rows of x; Mod of x (fmod 1).
Graph index_ops_graph() {
  OnnxModelBuilder b(13);
  b.input("x", {3, 5}).input("u", {3, 2});
  b.output("values", {3, 2}).output("positions", {3, 2}, onnx::TensorProto::INT64);
  b.output("picked", {2, 5}).output("rest", {3, 5});
  b.ints("idx", {3, 2}, {-1, 2, 0, 0, 4, -5});
  b.ints("k", {1}, {2});
  b.ints("rows", {2, 1}, {2, -3});
  b.raw_floats("m", {5}, {0.75f, -1.5f, 2.0f, -0.5f, 1.25f});
  testing::set_attr(b.node("ScatterElements", {"x", "idx", "u"}, {"s"}, "scatter"), "axis",
                    int64_t{1});
  testing::set_attr(b.node("TopK", {"s", "k"}, {"values", "positions"}, "top"), "largest",
                    int64_t{0});
  b.node("GatherND", {"x", "rows"}, {"picked"}, "rows_of_x");
  testing::set_attr(b.node("Mod", {"x", "m"}, {"rest"}, "mod"), "fmod", int64_t{1});
  return import_onnx(b.write(testing::fresh_dir("index_ops")), {});
}

// Runs `model` on seeded inputs and compares every output with the
// reference of `graph`.
void expect_index_ops_match_reference(Model& model, const Graph& graph) {
  const std::map<std::string, Tensor> inputs = {{"x", Tensor::random(DType::f32, {3, 5}, 1, 4.0)},
                                                {"u", Tensor::random(DType::f32, {3, 2}, 2, 4.0)}};
  std::map<std::string, reference::RefTensor> ref_inputs;
  for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
  std::map<std::string, reference::RefTensor> states;
  const auto expected = reference::run_graph(graph, ref_inputs, states);
  const auto actual = model.run(inputs);
  ASSERT_EQ(actual.size(), 4u);
  for (const auto& [name, value] : expected) {
    EXPECT_LE(reference::closeness(actual.at(name), value, 1e-6, 1e-6), 1.0) << name;
  }
  EXPECT_EQ(actual.at("positions").dtype(), DType::i64);
}

TEST(OnnxIndexOps, ImportedIndexOpsMatchTheReference) {
  const Graph graph = index_ops_graph();
  PluginRegistry registry;
  auto model = build_on_cpu(graph, registry);
  expect_index_ops_match_reference(*model, graph);
}

#ifdef RTSCOPE_HAVE_VULKAN_PLUGIN
// On [vulkan, cpu] the ops without Vulkan kernels run on cpu, the rest
// (TopK's gather_elements) on vulkan, and the results are the same.
TEST(OnnxIndexOps, OpsWithoutVulkanKernelsRunOnCpuBesideVulkan) {
  const Graph graph = index_ops_graph();
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  registry.load({.name = "cpu"});
  auto model = Model::build(graph, registry, {.backends = {"vulkan", "cpu"}});
  std::map<std::string, std::string> plugin_of;
  for (const NodePlacement& p : model->placements()) plugin_of[p.op] = p.plugin;
  for (const char* op : {"scatter_elements", "top_k", "gather_nd", "mod"}) {
    EXPECT_EQ(plugin_of[op], "cpu") << op;
  }
  EXPECT_EQ(plugin_of["gather_elements"], "vulkan");
  expect_index_ops_match_reference(*model, graph);
}
#endif

// Compress along an axis (with a condition shorter than it) and of the
// flattened data: the output length follows the condition at each run.
TEST(OnnxIndexOps, CompressMatchesTheReferenceAsTheConditionVaries) {
  OnnxModelBuilder b(13);
  b.input("x", {3, 4})
      .input("c", {3}, onnx::TensorProto::BOOL)
      .input("f", {12}, onnx::TensorProto::BOOL);
  b.output("rows", {-1, 4}).output("cols", {3, -1}).output("flat", {-1});
  testing::set_attr(b.node("Compress", {"x", "c"}, {"rows"}, "by_rows"), "axis", int64_t{0});
  testing::set_attr(b.node("Compress", {"x", "c"}, {"cols"}, "by_cols"), "axis", int64_t{-1});
  b.node("Compress", {"x", "f"}, {"flat"}, "flattened");
  Graph graph = import_onnx(b.write(testing::fresh_dir("compress")), {});
  const Graph imported = graph;
  PluginRegistry registry;
  auto model = build_on_cpu(std::move(graph), registry);
  std::set<int64_t> lengths;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const std::map<std::string, Tensor> inputs = {
        {"x", Tensor::random(DType::f32, {3, 4}, seed, 4.0)},
        {"c", Tensor::random(DType::boolean, {3}, seed + 10, 1.0)},
        {"f", Tensor::random(DType::boolean, {12}, seed + 20, 1.0)}};
    std::map<std::string, reference::RefTensor> ref_inputs;
    for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
    std::map<std::string, reference::RefTensor> states;
    const auto expected = reference::run_graph(imported, ref_inputs, states);
    const auto actual = model->run(inputs);
    for (const auto& [name, value] : expected) {
      EXPECT_EQ(actual.at(name).shape(), value.shape) << name;
      EXPECT_EQ(actual.at(name).to_doubles(), value.data) << name;
    }
    lengths.insert(actual.at("flat").shape()[0]);
  }
  EXPECT_GT(lengths.size(), 1u) << "the seeds should select different counts";
}

TEST(OnnxIndexOps, OutOfRangeIndicesInTheFileNameTheNode) {
  OnnxModelBuilder b(13);
  b.input("x", {2, 3}).input("u", {1, 3});
  b.output("s", {2, 3}).output("g", {1});
  b.ints("idx", {1, 3}, {0, 7, 1});
  b.ints("tuples", {1, 2}, {1, -9});
  testing::set_attr(b.node("ScatterElements", {"x", "idx", "u"}, {"s"}, "scatter"), "axis",
                    int64_t{1});
  b.node("GatherND", {"x", "tuples"}, {"g"}, "gather");
  Graph graph = import_onnx(b.write(testing::fresh_dir("hostile_indices")), {});
  PluginRegistry registry;
  auto model = build_on_cpu(std::move(graph), registry);
  const std::string message = one_line_error([&] {
    model->run({{"x", Tensor::random(DType::f32, {2, 3}, 3)},
                {"u", Tensor::random(DType::f32, {1, 3}, 4)}});
  });
  // Whichever node runs first reports its index.
  EXPECT_THAT(message, ::testing::AnyOf(AllOf(HasSubstr("'scatter'"), HasSubstr("index 7")),
                                        AllOf(HasSubstr("'gather'"), HasSubstr("index -9"))));
}

TEST(OnnxIndexOps, TopKBeyondTheAxisIsAnImportErrorNamingTheNode) {
  OnnxModelBuilder b(13);
  b.input("x", {2, 3}).output("v", {2, 4}).output("i", {2, 4}, onnx::TensorProto::INT64);
  b.ints("k", {1}, {4});
  b.node("TopK", {"x", "k"}, {"v", "i"}, "top");
  OnnxImportOptions options;
  options.check = false;  // shape inference would reject it first; the importer must too
  const std::string message =
      one_line_error([&] { import_onnx(b.write(testing::fresh_dir("top_k_too_big")), options); });
  EXPECT_THAT(message, AllOf(HasSubstr("model.onnx"), HasSubstr("node 'top'"),
                             HasSubstr("k 4 exceeds dim 1")));
}

}  // namespace
}  // namespace rtscope
