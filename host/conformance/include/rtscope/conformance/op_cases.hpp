// The op conformance cases: one small graph per op variant, with seeded
// random inputs chosen to be valid for the op (ids within the vocabulary,
// positions within the cache).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"

namespace rtscope::conformance {

struct InputSpec {
  enum class Kind { floating, ids, position, mask };
  std::string name;
  Kind kind = Kind::floating;
  Shape shape;
  int64_t limit = 0;  // ids: values in [0, limit); position: the value
  DType int_dtype = DType::i64;
  // A weight: handed to build_engine as an rts_constant with its declared
  // shape (never an engine input), with seeded values.
  bool constant = false;
  // position of shape [B]: one value per batch row (limit unused).
  std::vector<int64_t> values = {};
};

struct OpCase {
  std::string label;  // unique test name part
  std::string op;
  std::vector<InputSpec> inputs;
  AttrMap attrs;
  int outputs = 1;
};

// Every case of the op set (docs/ops.md).
const std::vector<OpCase>& op_cases();

// Cases with constant (weight) operands, which reach build_engine as
// rts_constant rather than as engine inputs. Kept apart from op_cases(),
// every input of whose cases tests bind by name.
const std::vector<OpCase>& weight_op_cases();

// Sorted names of the ops the cases cover.
std::vector<std::string> covered_ops();

// A validated single-node graph for `c` with float inputs of `dtype`.
Graph single_op_graph(const OpCase& c, DType dtype);

// Seeded random inputs for the graph's inputs (never all zeros); constant
// inputs are weights of the graph, not among them.
std::map<std::string, Tensor> random_inputs(const OpCase& c, DType dtype, uint64_t seed);

}  // namespace rtscope::conformance
