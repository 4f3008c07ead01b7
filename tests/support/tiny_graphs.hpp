// Small graphs built in C++ for host tests.
#pragma once

#include <string>

#include "rtscope/graph.hpp"

namespace rtscope::testing {

// A shape of fixed dims, as a graph declares it.
inline SymShape fixed_shape(const Shape& dims) {
  SymShape shape;
  for (int64_t d : dims) shape.push_back(Dim::fixed(d));
  return shape;
}

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
