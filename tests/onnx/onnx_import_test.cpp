// Imported models against the float64 reference: weights from raw_data,
// typed fields and memory-mapped external data; constant folding of shape
// arithmetic; dead nodes removed; BatchNormalization folded into Conv.
#include "rtscope/onnx_import.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using testing::OnnxModelBuilder;

// Seeded values in ±[0.1, 1]: never zero, so a dropped term shows.
std::vector<float> seeded(std::size_t count, uint32_t seed) {
  std::vector<float> values(count);
  uint32_t state = seed * 2654435761u + 1;
  for (float& v : values) {
    state = state * 1664525u + 1013904223u;
    const float unit = static_cast<float>(state >> 8) / static_cast<float>(1u << 24);
    v = (0.1f + 0.9f * unit) * ((state & 1) ? 1.0f : -1.0f);
  }
  return values;
}

Tensor tensor_of(const Shape& shape, const std::vector<float>& values) {
  return Tensor::from_bytes(DType::f32, shape, values.data());
}

// Runs `graph` on cpu and on the float64 reference with the same inputs.
void expect_matches_reference(Graph graph, const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, reference::RefTensor> ref_inputs;
  for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
  std::map<std::string, reference::RefTensor> states;
  const auto expected = reference::run_graph(graph, ref_inputs, states);
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(std::move(graph), registry, {.backends = {"cpu"}});
  const auto actual = model->run(inputs);
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, value] : expected) {
    EXPECT_LE(reference::closeness(actual.at(name), value, 1e-5, 1e-4), 1.0) << name;
  }
}

TEST(OnnxImport, MlpWithRawTypedAndExternalWeightsMatchesReference) {
  OnnxModelBuilder b;
  b.input("x", {-1, 8}).output("probs", {-1, 4});
  b.raw_floats("w1", {16, 8}, seeded(128, 1));
  b.typed_floats("b1", {16}, seeded(16, 2));
  b.external_floats("w2", {16, 4}, seeded(64, 3), "weights/w2.bin", 40);
  b.raw_floats("b2", {4}, seeded(4, 4));
  auto& gemm = b.node("Gemm", {"x", "w1", "b1"}, {"h"}, "fc1");
  testing::set_attr(gemm, "transB", int64_t{1});
  b.node("Relu", {"h"}, {"a"});
  b.node("MatMul", {"a", "w2"}, {"m"});
  b.node("Add", {"m", "b2"}, {"logits"});
  b.node("Softmax", {"logits"}, {"probs"});
  const auto path = b.write(testing::fresh_dir("mlp"));
  OnnxImportOptions options;
  options.shapes["x"] = {3, 8};
  Graph graph = import_onnx(path, options);
  ASSERT_EQ(graph.inputs.size(), 1u);
  EXPECT_EQ(graph.inputs[0].type.str(), "f32[3,8]");
  for (const Weight& w : graph.weights) EXPECT_EQ(w.init.kind, WeightInit::Kind::tensor);
  expect_matches_reference(std::move(graph), {{"x", tensor_of({3, 8}, seeded(24, 5))}});
}

const Tensor& weight_named(const Graph& graph, const std::string& name) {
  for (const Weight& w : graph.weights) {
    if (w.info.name == name) return w.init.data;
  }
  throw std::runtime_error("no weight " + name);
}

std::filesystem::path write_mlp(const std::filesystem::path& dir, uint32_t seed) {
  OnnxModelBuilder b;
  b.input("x", {-1, 8}).output("y", {-1, 4});
  b.raw_floats("w1", {8, 1024}, seeded(8 * 1024, seed));  // beyond the parse's stripping size
  b.typed_floats("b1", {1024}, seeded(1024, seed + 1));
  b.external_floats("w2", {1024, 4}, seeded(4096, seed + 2), "weights/w2.bin", 0);
  b.node("MatMul", {"x", "w1"}, {"m"});
  b.node("Add", {"m", "b1"}, {"h"});
  b.node("MatMul", {"h", "w2"}, {"y"});
  return b.write(dir);
}

// Two imports of one file with different shapes (a decoder and its prefill
// model) share the weights' bytes, so a plugin can share their device
// copies; each still matches the reference at its own shapes.
TEST(OnnxImport, ImportsOfOneFileShareTheWeightsBytes) {
  const auto path = write_mlp(testing::fresh_dir("shared_mlp"), 21);
  OnnxImportOptions step;
  step.shapes["x"] = {1, 8};
  OnnxImportOptions prompt;
  prompt.shapes["x"] = {5, 8};
  Graph a = import_onnx(path, step);
  Graph b = import_onnx(path, prompt);
  EXPECT_EQ(a.inputs[0].type.str(), "f32[1,8]");
  EXPECT_EQ(b.inputs[0].type.str(), "f32[5,8]");
  for (const char* name : {"w1", "b1", "w2"}) {
    EXPECT_EQ(weight_named(a, name).data(), weight_named(b, name).data()) << name;
  }
  expect_matches_reference(std::move(a), {{"x", tensor_of({1, 8}, seeded(8, 5))}});
  expect_matches_reference(std::move(b), {{"x", tensor_of({5, 8}, seeded(40, 6))}});
}

// A file rewritten while a graph of it is alive is read again: the new
// import has the new weights, the old graph keeps the old ones.
TEST(OnnxImport, ARewrittenFileIsReadAgain) {
  const auto dir = testing::fresh_dir("rewritten_mlp");
  const auto path = write_mlp(dir, 31);
  OnnxImportOptions options;
  options.shapes["x"] = {1, 8};
  const Graph before = import_onnx(path, options);
  std::filesystem::remove(path);  // a new inode, whatever the clock's granularity
  write_mlp(dir, 41);
  const Graph after = import_onnx(path, options);
  const std::vector<float> old_w1 = seeded(8 * 1024, 31);
  const std::vector<float> new_w1 = seeded(8 * 1024, 41);
  const auto* old_values = static_cast<const float*>(weight_named(before, "w1").data());
  const auto* new_values = static_cast<const float*>(weight_named(after, "w1").data());
  EXPECT_TRUE(std::equal(old_w1.begin(), old_w1.end(), old_values));
  EXPECT_TRUE(std::equal(new_w1.begin(), new_w1.end(), new_values));
}

TEST(OnnxImport, DimParamStaysSymbolicWithoutShapes) {
  OnnxModelBuilder b;
  b.input("x", {-1, 8}, onnx::TensorProto::FLOAT, "batch").output("y", {-1, 8});
  b.node("Relu", {"x"}, {"y"});
  Graph graph = import_onnx(b.write(testing::fresh_dir("symbolic")));
  EXPECT_EQ(graph.inputs[0].type.str(), "f32[batch,8]");
  ASSERT_TRUE(graph.symbols.count("batch"));
  EXPECT_EQ(graph.symbols.at("batch").max, 4096);
}

TEST(OnnxImport, ShapeArithmeticFoldsIntoAStaticReshapeAndDeadNodesGo) {
  OnnxModelBuilder b;
  b.input("x", {-1, 3, 4}).output("y", {-1, 12});
  b.ints("zero", {1}, {0});
  b.ints("minus_one", {1}, {-1});
  b.node("Shape", {"x"}, {"shape"});
  auto& gather = b.node("Gather", {"shape", "zero"}, {"batch"});
  testing::set_attr(gather, "axis", int64_t{0});
  auto& concat = b.node("Concat", {"batch", "minus_one"}, {"target"});
  testing::set_attr(concat, "axis", int64_t{0});
  b.node("Reshape", {"x", "target"}, {"flat"});
  b.node("Relu", {"flat"}, {"y"});
  b.node("Exp", {"x"}, {"unused"}, "dead");
  OnnxImportOptions options;
  options.shapes["x"] = {2, 3, 4};
  Graph graph = import_onnx(b.write(testing::fresh_dir("fold")), options);
  std::vector<std::string> ops;
  for (const Node& node : graph.nodes) ops.push_back(node.op);
  EXPECT_THAT(ops, ::testing::ElementsAre("reshape", "relu"));
  EXPECT_EQ(std::get<std::vector<int64_t>>(graph.nodes[0].attrs.at("shape")),
            (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(graph.type_of("y").str(), "f32[2,12]");
  expect_matches_reference(std::move(graph), {{"x", tensor_of({2, 3, 4}, seeded(24, 6))}});
}

TEST(OnnxImport, BatchNormalizationFoldsIntoConv) {
  OnnxModelBuilder b(11);
  b.input("x", {1, 2, 5, 5}).output("y", {1, 3, 5, 5});
  const auto w = seeded(3 * 2 * 3 * 3, 7);
  const auto bias = seeded(3, 8);
  const auto gamma = seeded(3, 9);
  const auto beta = seeded(3, 10);
  const auto mean = seeded(3, 11);
  std::vector<float> var = seeded(3, 12);
  for (float& v : var) v = std::fabs(v) + 0.5f;
  b.raw_floats("w", {3, 2, 3, 3}, w).raw_floats("b", {3}, bias);
  b.raw_floats("gamma", {3}, gamma).raw_floats("beta", {3}, beta);
  b.raw_floats("mean", {3}, mean).raw_floats("var", {3}, var);
  auto& conv = b.node("Conv", {"x", "w", "b"}, {"c"});
  testing::set_attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  auto& bn = b.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"y"});
  testing::set_attr(bn, "epsilon", 1e-3f);
  Graph graph = import_onnx(b.write(testing::fresh_dir("bn")));
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op, "conv");

  // Expected: the reference's conv, then the batch norm formula in double.
  const auto x = seeded(50, 13);
  const auto as_ref = [](const Shape& shape, const std::vector<float>& v) {
    return reference::RefTensor::from(tensor_of(shape, v));
  };
  const auto conv_out = reference::run_op(
      "conv", {as_ref({1, 2, 5, 5}, x), as_ref({3, 2, 3, 3}, w), as_ref({3}, bias)},
      {{"pads", std::vector<int64_t>{1, 1, 1, 1}}})[0];
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(std::move(graph), registry, {.backends = {"cpu"}});
  const std::vector<double> y =
      model->run({{"x", tensor_of({1, 2, 5, 5}, x)}}).at("y").to_doubles();
  ASSERT_EQ(y.size(), conv_out.data.size());
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::size_t c = i / 25;
    const double expected =
        (conv_out.data[i] - mean[c]) / std::sqrt(static_cast<double>(var[c]) + 1e-3) * gamma[c] +
        beta[c];
    EXPECT_NEAR(y[i], expected, 1e-4 + 1e-4 * std::fabs(expected)) << i;
  }
}

TEST(OnnxImport, OpNeedingStaticShapesSaysWhatToGive) {
  OnnxModelBuilder b;
  b.input("x", {-1, 3, 4}).output("y", {-1, 12});
  b.node("Flatten", {"x"}, {"y"}, "flat");
  try {
    import_onnx(b.write(testing::fresh_dir("dynamic")));
    FAIL() << "a dynamic Flatten imported";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("node 'flat'"));
    EXPECT_THAT(e.what(), HasSubstr("--shapes"));
  }
}

TEST(OnnxImport, TensorFileLoads) {
  onnx::TensorProto t;
  t.set_name("input_0");
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(3);
  for (int64_t v : {4, -5, 6}) t.add_int64_data(v);
  const auto dir = testing::fresh_dir("tensor");
  std::ofstream(dir / "input_0.pb", std::ios::binary) << t.SerializeAsString();
  const OnnxTensorFile file = load_onnx_tensor(dir / "input_0.pb");
  EXPECT_EQ(file.name, "input_0");
  EXPECT_EQ(file.tensor.to_doubles(), (std::vector<double>{4, -5, 6}));
}

}  // namespace
}  // namespace rtscope
