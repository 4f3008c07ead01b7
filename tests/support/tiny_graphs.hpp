// Small graphs built in C++ for host tests, and the builder the tests
// write their own with, one value or node a line:
//
//   Graph g = GraphBuilder("staged_add")
//                 .input("a", DType::f32, {4, 8})
//                 .input("b", DType::f32, {4, 8})
//                 .node("sum", "add", {"a", "b"}, "y")
//                 .outputs({"y"})
//                 .build();
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graph_builder.hpp"  // host/src: the built-in templates' builder
#include "rtscope/graph.hpp"

namespace rtscope::testing {

// A shape of fixed dims, as a graph declares it.
inline SymShape fixed_shape(const Shape& dims) {
  SymShape shape;
  for (int64_t d : dims) shape.push_back(Dim::fixed(d));
  return shape;
}

// An f32 value of fixed dims.
inline ValueType f32_value(const Shape& dims) { return {DType::f32, fixed_shape(dims)}; }

using rtscope::seeded_init;

// A chain over the host's builder of the built-in templates: every value
// and node is located at "test:NAME", so an error about the graph names the
// test graph it came from.
class GraphBuilder {
 public:
  explicit GraphBuilder(const std::string& name) : builder_(name, "test:" + name) {}

  // A graph input of fixed `dims`.
  GraphBuilder& input(std::string name, DType dtype, const Shape& dims) {
    builder_.input(std::move(name), dtype, fixed_shape(dims));
    return *this;
  }
  GraphBuilder& weight(std::string name, DType dtype, const Shape& dims, WeightInit init = {}) {
    builder_.weight(std::move(name), dtype, dims, init);
    return *this;
  }
  // A state buffer that `update_from` (a node output) replaces after each run.
  GraphBuilder& state(std::string name, DType dtype, const Shape& dims, std::string update_from) {
    builder_.state(std::move(name), dtype, dims, std::move(update_from));
    return *this;
  }
  GraphBuilder& node(std::string name, std::string op, std::vector<std::string> inputs,
                     std::string output, AttrMap attrs = {}) {
    builder_.node(std::move(name), std::move(op), std::move(inputs), std::move(output),
                  std::move(attrs));
    return *this;
  }
  // Appends to the graph's outputs, in order.
  GraphBuilder& outputs(const std::vector<std::string>& names) {
    for (const std::string& name : names) builder_.output(name);
    return *this;
  }

  // The graph, checked and typed by validate() (which throws InputError on
  // a mistake in the test's graph). Call once.
  Graph build() { return builder_.finish(); }

 private:
  rtscope::GraphBuilder builder_;
};

// x f32[n] -> scale(factor) -> relu -> y. Runs on the testing and cpu plugins.
inline Graph scale_relu_graph(int64_t n = 16, double factor = 2.0) {
  Graph g;
  g.name = "scale_relu";
  g.loc = {"test:scale_relu", 0, 0};
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(n)}}, {}});
  Node scale{"scale", "scale", {"x"}, {"h"}, {{"factor", factor}}, {}};
  Node relu{"relu", "relu", {"h"}, {"y"}, {}, {}};
  g.nodes = {scale, relu};
  g.outputs = {"y"};
  validate(g);
  return g;
}

// x f32[4,8] -> softmax -> scale(3) -> relu -> softmax -> y. With backends
// testing then cpu the softmaxes go to cpu and the rest to testing: three
// modules. With `late_input`, also y2 = y + z (on testing), where z is read
// only by that fourth module; the outputs are then y2, y.
inline Graph three_module_graph(bool late_input = false) {
  Graph g;
  g.name = "three";
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(4), Dim::fixed(8)}}, {}});
  g.nodes = {
      {"sm0", "softmax", {"x"}, {"a"}, {}, {}},
      {"scale", "scale", {"a"}, {"b"}, {{"factor", 3.0}}, {}},
      {"relu", "relu", {"b"}, {"c"}, {}, {}},
      {"sm1", "softmax", {"c"}, {"y"}, {}, {}},
  };
  g.outputs = {"y"};
  if (late_input) {
    g.inputs.push_back({"z", {DType::f32, {Dim::fixed(4), Dim::fixed(8)}}, {}});
    g.nodes.push_back({"add", "add", {"y", "z"}, {"y2"}, {}, {}});
    g.outputs = {"y2", "y"};
  }
  validate(g);
  return g;
}

}  // namespace rtscope::testing
