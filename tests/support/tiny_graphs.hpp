// Small graphs built in C++ for host tests.
#pragma once

#include <string>

#include "rtscope/graph.hpp"

namespace rtscope::testing {

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

}  // namespace rtscope::testing
