// ONNX If, Loop and Scan resolved at import: the branch a known condition
// names (reading a value of the outer graph), a Loop with carried state, a
// scan output and a condition its body computes from the iteration number
// (so it stops early), and a Scan over axis 1 in reverse. Values are
// checked against sums worked out here. A condition known only at run
// time is one error line naming the node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"

namespace rtscope {
namespace {

using testing::describe_tensor;
using ::testing::HasSubstr;
using testing::import_error;
using testing::OnnxModelBuilder;

constexpr int32_t kFloat = onnx::TensorProto::FLOAT;
constexpr int32_t kInt64 = onnx::TensorProto::INT64;
constexpr int32_t kBool = onnx::TensorProto::BOOL;

void bool_initializer(onnx::GraphProto& graph, const std::string& name, bool value) {
  onnx::TensorProto* t = graph.add_initializer();
  t->set_name(name);
  t->set_data_type(kBool);
  t->add_int32_data(value ? 1 : 0);
}

onnx::NodeProto& add_node(onnx::GraphProto& graph, const std::string& op,
                          const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs) {
  onnx::NodeProto* node = graph.add_node();
  node->set_op_type(op);
  for (const std::string& in : inputs) node->add_input(in);
  for (const std::string& out : outputs) node->add_output(out);
  return *node;
}

std::vector<float> run_on_cpu(const Graph& graph, const std::map<std::string, Tensor>& inputs,
                              const std::string& output) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  const Tensor y = model->run(inputs).at(output);
  return std::vector<float>(y.data_as<float>(), y.data_as<float>() + y.numel());
}

Tensor floats(const Shape& shape, const std::vector<float>& values) {
  Tensor t = Tensor::empty(DType::f32, shape);
  std::copy(values.begin(), values.end(), t.data_as<float>());
  return t;
}

// y = If(cond) then x + c (c an outer initializer) else x * x.
OnnxModelBuilder if_model(bool cond, bool runtime_cond = false) {
  OnnxModelBuilder m(13);
  m.input("x", {3}).output("y", {3});
  m.raw_floats("c", {3}, {10, 20, 30});
  if (runtime_cond) {
    m.input("cond", {}, kBool);
  } else {
    bool_initializer(*m.model().mutable_graph(), "cond", cond);
  }
  onnx::GraphProto then_branch, else_branch;
  then_branch.set_name("then");
  add_node(then_branch, "Add", {"x", "c"}, {"sum"});
  describe_tensor(*then_branch.add_output(), "sum", {3}, kFloat);
  else_branch.set_name("else");
  add_node(else_branch, "Mul", {"x", "x"}, {"square"});
  describe_tensor(*else_branch.add_output(), "square", {3}, kFloat);
  onnx::NodeProto& node = m.node("If", {"cond"}, {"y"}, "choose");
  testing::set_attr(node, "then_branch", then_branch);
  testing::set_attr(node, "else_branch", else_branch);
  return m;
}

TEST(OnnxControlFlow, IfTakesTheBranchItsKnownConditionNames) {
  const Tensor x = floats({3}, {1.5f, -2, 4});
  const Graph then_graph = import_onnx(if_model(true).write(testing::fresh_dir("if_then")), {});
  EXPECT_EQ(run_on_cpu(then_graph, {{"x", x}}, "y"), (std::vector<float>{11.5f, 18, 34}));
  const Graph else_graph = import_onnx(if_model(false).write(testing::fresh_dir("if_else")), {});
  EXPECT_EQ(run_on_cpu(else_graph, {{"x", x}}, "y"), (std::vector<float>{2.25f, 4, 16}));
  const std::string runtime = import_error(if_model(true, true), "if_runtime");
  EXPECT_THAT(runtime, HasSubstr("node 'choose'"));
  EXPECT_THAT(runtime, HasSubstr("cond 'cond' must be known at import time"));
}

// Loop M = 5, v0 = x: each iteration v += x and emits 2 * v; the body's
// condition is iteration < 2, so three iterations run.
OnnxModelBuilder loop_model(bool runtime_condition) {
  OnnxModelBuilder m(13);
  m.input("x", {2}).output("v", {2}).output("scan", {3, 2});
  m.ints("m", {}, {5});
  bool_initializer(*m.model().mutable_graph(), "go", true);
  onnx::GraphProto body;
  body.set_name("body");
  describe_tensor(*body.add_input(), "i", {}, kInt64);
  describe_tensor(*body.add_input(), "cond_in", {}, kBool);
  describe_tensor(*body.add_input(), "v_in", {2}, kFloat);
  onnx::TensorProto* two = body.add_initializer();
  two->set_name("two");
  two->set_data_type(kInt64);
  two->add_int64_data(2);
  add_node(body, "Add", {"v_in", "x"}, {"v_out"});
  add_node(body, "Add", {"v_out", "v_out"}, {"doubled"});
  if (runtime_condition) {
    add_node(body, "ReduceSum", {"v_out"}, {"total"});
    add_node(body, "Greater", {"total", "x_limit"}, {"cond_out"});
  } else {
    add_node(body, "Less", {"i", "two"}, {"cond_out"});
  }
  describe_tensor(*body.add_output(), "cond_out", {}, kBool);
  describe_tensor(*body.add_output(), "v_out", {2}, kFloat);
  describe_tensor(*body.add_output(), "doubled", {2}, kFloat);
  if (runtime_condition) m.raw_floats("x_limit", {}, {100.0f});
  onnx::NodeProto& node = m.node("Loop", {"m", "go", "x"}, {"v", "scan"}, "repeat");
  testing::set_attr(node, "body", body);
  return m;
}

TEST(OnnxControlFlow, LoopUnrollsUntilItsConditionTurnsFalse) {
  const Graph graph = import_onnx(loop_model(false).write(testing::fresh_dir("loop")), {});
  const std::map<std::string, Tensor> inputs = {{"x", floats({2}, {1, -0.5f})}};
  EXPECT_EQ(run_on_cpu(graph, inputs, "v"), (std::vector<float>{4, -2}));
  EXPECT_EQ(run_on_cpu(graph, inputs, "scan"), (std::vector<float>{4, -2, 6, -3, 8, -4}));
  const std::string runtime = import_error(loop_model(true), "loop_runtime");
  EXPECT_THAT(runtime, HasSubstr("node 'repeat'"));
  EXPECT_THAT(runtime, HasSubstr("its condition is computed at run time"));
}

// Scan of the columns of x [2, 3] in reverse with a running sum s [2].
TEST(OnnxControlFlow, ScanRunsOverItsAxisInEitherDirection) {
  OnnxModelBuilder m(11);
  m.input("s0", {2}).input("x", {2, 3}).output("s", {2}).output("sums", {3, 2});
  onnx::GraphProto body;
  body.set_name("body");
  describe_tensor(*body.add_input(), "s_in", {2}, kFloat);
  describe_tensor(*body.add_input(), "column", {2}, kFloat);
  add_node(body, "Add", {"s_in", "column"}, {"s_out"});
  add_node(body, "Identity", {"s_out"}, {"seen"});
  describe_tensor(*body.add_output(), "s_out", {2}, kFloat);
  describe_tensor(*body.add_output(), "seen", {2}, kFloat);
  onnx::NodeProto& node = m.node("Scan", {"s0", "x"}, {"s", "sums"}, "running");
  testing::set_attr(node, "body", body);
  testing::set_attr(node, "num_scan_inputs", int64_t{1});
  testing::set_attr(node, "scan_input_axes", std::vector<int64_t>{1});
  testing::set_attr(node, "scan_input_directions", std::vector<int64_t>{1});
  const Graph graph = import_onnx(m.write(testing::fresh_dir("scan")), {});
  const std::map<std::string, Tensor> inputs = {{"s0", floats({2}, {0.5f, -1})},
                                                {"x", floats({2, 3}, {1, 2, 3, 10, 20, 30})}};
  // Columns 2, 1, 0 in turn: s = s0 + (3, 30), + (2, 20), + (1, 10).
  EXPECT_EQ(run_on_cpu(graph, inputs, "sums"), (std::vector<float>{3.5f, 29, 5.5f, 49, 6.5f, 59}));
  EXPECT_EQ(run_on_cpu(graph, inputs, "s"), (std::vector<float>{6.5f, 59}));
}

// A loop of 150 iterations inside a loop of 150 asks for 22,650 body
// imports: refused, naming the node, before the graph grows without bound.
TEST(OnnxControlFlow, NestedLoopsAreBoundedAcrossTheModel) {
  OnnxModelBuilder m(13);
  m.input("x", {2}).output("v", {2});
  m.ints("m", {}, {150});
  auto loop_body = [](const std::string& tag, const onnx::GraphProto* inner) {
    onnx::GraphProto body;
    body.set_name(tag);
    describe_tensor(*body.add_input(), tag + "_i", {}, kInt64);
    describe_tensor(*body.add_input(), tag + "_cond", {}, kBool);
    describe_tensor(*body.add_input(), tag + "_v", {2}, kFloat);
    if (inner == nullptr) {
      add_node(body, "Add", {tag + "_v", "x"}, {tag + "_out"});
    } else {
      onnx::NodeProto& node = add_node(body, "Loop", {"m", "", tag + "_v"}, {tag + "_out"});
      testing::set_attr(node, "body", *inner);
    }
    add_node(body, "Identity", {tag + "_cond"}, {tag + "_cond_out"});
    describe_tensor(*body.add_output(), tag + "_cond_out", {}, kBool);
    describe_tensor(*body.add_output(), tag + "_out", {2}, kFloat);
    return body;
  };
  const onnx::GraphProto inner = loop_body("inner", nullptr);
  const onnx::GraphProto outer = loop_body("outer", &inner);
  onnx::NodeProto& node = m.node("Loop", {"m", "", "x"}, {"v"}, "nested");
  testing::set_attr(node, "body", outer);
  const std::string error = import_error(m, "nested_loops");
  EXPECT_THAT(error, HasSubstr("imports more than 16384 subgraph bodies"));
}

// A Scan with fewer outputs than state variables is an error naming the
// node (it once asked for a vector of -1 axes).
TEST(OnnxControlFlow, ScanWithTooFewOutputsNamesTheNode) {
  OnnxModelBuilder m(11);
  m.input("s0", {2}).input("s1", {2}).input("x", {2, 3}).output("s", {2});
  onnx::GraphProto body;
  body.set_name("body");
  describe_tensor(*body.add_input(), "s0_in", {2}, kFloat);
  describe_tensor(*body.add_input(), "s1_in", {2}, kFloat);
  describe_tensor(*body.add_input(), "column", {2}, kFloat);
  add_node(body, "Add", {"s0_in", "column"}, {"s_out"});
  describe_tensor(*body.add_output(), "s_out", {2}, kFloat);
  onnx::NodeProto& node = m.node("Scan", {"s0", "s1", "x"}, {"s"}, "short");
  testing::set_attr(node, "body", body);
  testing::set_attr(node, "num_scan_inputs", int64_t{1});
  const std::string error = import_error(m, "scan_short");
  EXPECT_THAT(error, HasSubstr("node 'short'"));
  EXPECT_THAT(error, HasSubstr("has 1 outputs for 2 state variables"));
}

}  // namespace
}  // namespace rtscope
