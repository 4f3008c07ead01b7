// The concrete entry of type inference: fixed dims in and out, the same
// rules and texts as the symbolic inference that the host runs.
#include <stdexcept>

#include "op_shapes.hpp"
#include "rtscope/op_schema.hpp"

namespace rtscope::schema {

std::vector<ConcreteOutput> infer(const OpSchema& schema, std::span<const TensorType> inputs,
                                  const AttrMap& resolved_attrs) {
  std::vector<ValueType> types(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    types[i].dtype = inputs[i].dtype;
    types[i].shape.reserve(inputs[i].dims.size());
    for (int64_t dim : inputs[i].dims) types[i].shape.push_back(Dim::fixed(dim));
  }
  const std::vector<ValueType> outputs = schema.infer(types, resolved_attrs);
  std::vector<ConcreteOutput> result(outputs.size());
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    result[o].dtype = outputs[o].dtype;
    result[o].dims.reserve(outputs[o].shape.size());
    for (const Dim& dim : outputs[o].shape) {
      if (is_data_dependent(dim)) {
        // Static inputs always give the bound.
        result[o].data_dependent_dim = static_cast<int>(result[o].dims.size());
        result[o].dims.push_back(dim.value);
      } else if (dim.is_static()) {
        result[o].dims.push_back(dim.value);
      } else {
        // Fixed dims in give fixed dims out; a symbol here is a bug in the
        // op's shape rule.
        throw std::logic_error("op '" + schema.name + "' inferred the symbolic output " +
                               outputs[o].str() + " from fixed input dims");
      }
    }
  }
  return result;
}

}  // namespace rtscope::schema
