// Graph IR: tensors with symbolic shapes, weights, state buffers and nodes.
//
// A Graph comes from a YAML file (graph_yaml.hpp) or a built-in template
// (templates.hpp). validate() checks it and infers every value's type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "rtscope/dtype.hpp"
#include "rtscope/tensor.hpp"
#include "rtscope/value_types.hpp"

namespace rtscope {

// Where something was written; empty file for graphs built in C++.
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
  // "file:line:col" (or the template name).
  std::string str() const;
};

// Range of a symbolic dimension.
struct SymbolRange {
  int64_t min = 1;
  int64_t opt = 1;
  int64_t max = 1;
};

struct ValueInfo {
  std::string name;
  ValueType type;
  SourceLocation loc;
};

struct Node {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  AttrMap attrs;
  SourceLocation loc;
};

// How a weight gets its values.
struct WeightInit {
  enum class Kind { seeded, file, tensor } kind = Kind::seeded;
  uint64_t seed = 0;    // seeded: combined with the weight's name
  double scale = 0.02;  // seeded: uniform in [-scale, scale]
  double offset = 0.0;  // seeded: added after scaling (e.g. 1.0 for norm gains)
  std::string path;     // file: raw little-endian values, resolved against the graph file
  // tensor: the values, a host tensor of the weight's dtype and shape, held
  // in memory already (a checkpoint's or an imported model's, possibly
  // memory-mapped); shared, never copied.
  Tensor data{};
};

struct Weight {
  ValueInfo info;  // static shape required
  WeightInit init;
};

// A mutable buffer that persists across executes (e.g. a KV cache). Nodes
// read it by `info.name`; after each execute it takes the value of
// `update_from` (in place when the producing op aliases it).
struct StateBuffer {
  ValueInfo info;  // static shape required; starts zeroed
  std::string update_from;
};

struct Graph {
  std::string name;
  SourceLocation loc;
  std::map<std::string, SymbolRange> symbols;
  std::vector<ValueInfo> inputs;
  std::vector<std::string> outputs;
  std::vector<Weight> weights;
  std::vector<StateBuffer> states;
  std::vector<Node> nodes;

  // Filled by validate(): the type of every value (inputs, weights, states,
  // node outputs), and nodes sorted topologically.
  std::map<std::string, ValueType> values;

  const ValueType& type_of(const std::string& value) const;
};

// Checks the graph and infers value types; sorts nodes topologically.
// Throws InputError whose message starts with the offending location:
// unknown op or attribute, dangling tensor, shape or dtype mismatch, cycle,
// duplicate name.
void validate(Graph& graph);

// The values of a weight: deterministic ones of a seeded weight (same on
// every machine), a file's, or the given tensor (shared, not copied).
Tensor materialize_weight(const Weight& weight);

// The values of several weights, as materialize_weight() gives each, for a
// model being built. Seeded weights share one allocation (huge pages where
// it is large: a start then takes a handful of page faults for its weights
// instead of thousands), and a seeded weight that another model of this
// process already holds (same name, seed, scale, offset, dtype and shape:
// models built from one template, parameters and seed) is shared with it,
// not generated again. Weights are constants: nothing writes to them.
std::vector<Tensor> materialize_weights(std::span<const Weight* const> weights);

}  // namespace rtscope
