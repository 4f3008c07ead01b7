#include "rtscope/kit/resolved_graph.hpp"

namespace rtscope::kit {

rts_value to_rts_value(const ValueDesc& desc) {
  rts_value value{};
  value.name = desc.name.c_str();
  value.dtype = desc.dtype;
  value.rank = static_cast<uint32_t>(desc.dims.size());
  for (size_t i = 0; i < desc.dims.size(); ++i) {
    value.dims[i] = desc.dims[i];
    value.min_dims[i] = desc.min_dims[i];
    value.max_dims[i] = desc.max_dims[i];
  }
  return value;
}

void check_input_dims(const ValueDesc& declared, std::span<const int64_t> dims) {
  if (dims.size() != declared.dims.size()) {
    fail_invalid("input '", declared.name, "': shape ", shape_str(dims), " has rank ", dims.size(),
                 " but the engine expects ", declared.type_str());
  }
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (declared.dims[axis] >= 0 && dims[axis] != declared.dims[axis]) {
      fail_invalid("input '", declared.name, "': shape ", shape_str(dims), " does not match ",
                   declared.type_str(), " (dim ", axis, " must be ", declared.dims[axis], ")");
    }
    if (dims[axis] < declared.min_dims[axis] || dims[axis] > declared.max_dims[axis]) {
      fail_invalid("input '", declared.name, "': shape ", shape_str(dims), " has dim ", axis, " = ",
                   dims[axis], " outside its range [", declared.min_dims[axis], ", ",
                   declared.max_dims[axis], "]");
    }
  }
}

void check_inferred_dims(const NodeDesc& node, const ResolvedValue& value, const Dims& dims) {
  if (dims.size() > RTS_MAX_RANK) {
    fail_invalid(node.label(), ": output '", value.name, "' would have rank ", dims.size(), " > ",
                 RTS_MAX_RANK);
  }
  if (value.declared == nullptr) return;
  const ValueDesc& declared = *value.declared;
  bool matches = dims.size() == declared.dims.size();
  for (size_t axis = 0; matches && axis < dims.size(); ++axis) {
    matches = declared.dims[axis] < 0 || declared.dims[axis] == dims[axis];
  }
  if (!matches) {
    fail_invalid(node.label(), ": output '", value.name, "' is ", dtype_name(value.dtype),
                 shape_str(dims), " but the graph declares ", declared.type_str());
  }
}

std::optional<std::vector<Dims>> static_input_dims(const GraphDesc& graph) {
  std::vector<Dims> dims;
  for (const ValueDesc& input : graph.inputs) {
    if (!input.is_static()) return std::nullopt;
    dims.push_back(input.dims);
  }
  return dims;
}

}  // namespace rtscope::kit
