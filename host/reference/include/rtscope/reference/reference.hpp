// Float64 reference implementation of the op set (docs/ops.md), used by the
// conformance tests to judge every plugin. Slow and obviously correct.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::reference {

// A tensor of doubles; `dtype` records the logical type (integers are
// stored exactly as doubles).
struct RefTensor {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<double> data;

  static RefTensor from(const Tensor& tensor);
};

// Runs one op. Throws InputError on invalid shapes or values.
std::vector<RefTensor> run_op(const std::string& op, const std::vector<RefTensor>& inputs,
                              const AttrMap& attrs);

// Runs a validated graph. `states` holds the state buffers by name (missing
// ones start zeroed) and is updated in place. Weights are materialized with
// materialize_weight(). Returns the graph outputs by name.
std::map<std::string, RefTensor> run_graph(const Graph& graph,
                                           const std::map<std::string, RefTensor>& inputs,
                                           std::map<std::string, RefTensor>& states);

// Largest |a - b| / (atol + rtol * |b|) over all elements; <= 1 means close.
// Shapes must match (else returns +inf).
double closeness(const Tensor& actual, const RefTensor& expected, double atol, double rtol);

}  // namespace rtscope::reference
