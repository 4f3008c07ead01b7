// Small helper for graphs built in C++ (the built-in templates): every
// node, value and weight gets the template's SourceLocation so validate()
// errors name the template.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rtscope/graph.hpp"

namespace rtscope {

class GraphBuilder {
 public:
  // `origin` is the pseudo file of every location, e.g. "builtin:decoder".
  GraphBuilder(std::string name, std::string origin) {
    graph_.name = std::move(name);
    graph_.loc.file = std::move(origin);
  }

  const SourceLocation& loc() const { return graph_.loc; }

  void symbol(const std::string& name, SymbolRange range) { graph_.symbols[name] = range; }

  void input(std::string name, DType dtype, SymShape shape) {
    graph_.inputs.push_back(info(std::move(name), dtype, std::move(shape)));
  }

  void weight(std::string name, DType dtype, const Shape& shape, WeightInit init) {
    graph_.weights.push_back(Weight{info(std::move(name), dtype, fixed(shape)), init});
  }

  void state(std::string name, DType dtype, const Shape& shape, std::string update_from) {
    graph_.states.push_back(
        StateBuffer{info(std::move(name), dtype, fixed(shape)), std::move(update_from)});
  }

  // Adds a one-output node and returns the output's name.
  std::string node(std::string name, std::string op, std::vector<std::string> inputs,
                   std::string output, AttrMap attrs = {}) {
    graph_.nodes.push_back(Node{
        std::move(name), std::move(op), std::move(inputs), {output}, std::move(attrs), graph_.loc});
    return output;
  }

  void output(std::string name) { graph_.outputs.push_back(std::move(name)); }

  // Validates (filling value types, sorting nodes) and hands the graph over.
  Graph finish() {
    validate(graph_);
    return std::move(graph_);
  }

 private:
  ValueInfo info(std::string name, DType dtype, SymShape shape) const {
    return ValueInfo{std::move(name), ValueType{dtype, std::move(shape)}, graph_.loc};
  }

  static SymShape fixed(const Shape& shape) {
    SymShape out;
    for (int64_t d : shape) out.push_back(Dim::fixed(d));
    return out;
  }

  Graph graph_;
};

// Seeded init: uniform in [offset - scale, offset + scale].
inline WeightInit seeded_init(uint64_t seed, double scale, double offset = 0.0) {
  WeightInit init;
  init.seed = seed;
  init.scale = scale;
  init.offset = offset;
  return init;
}

}  // namespace rtscope
