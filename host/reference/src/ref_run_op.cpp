// run_op(): schema checks, then the op's float64 kernel.
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

#include "ref_ops.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference {
namespace detail {

Kernel find_kernel(std::string_view op) {
  static const KernelTable kernels = [] {
    KernelTable t;
    t["add"] = add_kernel;
    t["sub"] = sub_kernel;
    t["mul"] = mul_kernel;
    t["scale"] = scale_kernel;
    t["relu"] = relu_kernel;
    t["gelu"] = gelu_kernel;
    t["silu"] = silu_kernel;
    t["matmul"] = matmul_kernel;
    t["linear"] = linear_kernel;
    t["det"] = det_kernel;
    t["softmax"] = softmax_kernel;
    t["layernorm"] = layernorm_kernel;
    t["rmsnorm"] = rmsnorm_kernel;
    t["rope"] = rope_kernel;
    t["attention"] = attention_kernel;
    t["kv_cache_update"] = kv_cache_update_kernel;
    t["embedding"] = embedding_kernel;
    t["reshape"] = reshape_kernel;
    t["transpose"] = transpose_kernel;
    t["concat"] = concat_kernel;
    t["slice"] = slice_kernel;
    t["argmax"] = argmax_kernel;
    t["nonzero"] = nonzero_kernel;
    t["masked_select"] = masked_select_kernel;
    add_math_kernels(t);
    add_window_kernels(t);
    add_select_kernels(t);
    add_index_kernels(t);
    return t;
  }();
  auto it = kernels.find(op);
  return it == kernels.end() ? nullptr : it->second;
}

std::vector<int64_t> broadcast_sources(const Shape& out, const Shape& in) {
  const std::size_t rank = out.size();
  const std::size_t offset = rank - in.size();  // in is right-aligned
  // Strides of `in` seen from `out`'s coordinates; 0 where `in` broadcasts.
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (std::size_t d = in.size(); d-- > 0;) {
    strides[d + offset] = in[d] == 1 ? 0 : stride;
    stride *= in[d];
  }
  const int64_t count = element_count(out);
  std::vector<int64_t> sources(static_cast<std::size_t>(count));
  std::vector<int64_t> coords(rank, 0);
  int64_t source = 0;
  for (int64_t i = 0; i < count; ++i) {
    sources[i] = source;
    // Odometer increment of coords, keeping `source` in step.
    for (std::size_t d = rank; d-- > 0;) {
      source += strides[d];
      if (++coords[d] < out[d]) break;
      source -= strides[d] * out[d];
      coords[d] = 0;
    }
  }
  return sources;
}

int64_t position_of(const RefTensor& pos, int64_t row, std::string_view op) {
  const double value = pos.data.at(pos.data.size() == 1 ? 0 : static_cast<std::size_t>(row));
  if (!(value >= 0) || std::floor(value) != value) {
    throw InputError(std::string(op) + ": pos[" + std::to_string(pos.data.size() == 1 ? 0 : row) +
                     "] must be a non-negative integer, got " + std::to_string(value));
  }
  return static_cast<int64_t>(value);
}

AxisSplit split_at(const Shape& shape, std::size_t axis) {
  AxisSplit split;
  for (std::size_t d = 0; d < axis; ++d) split.outer *= shape[d];
  split.length = shape[axis];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) split.inner *= shape[d];
  return split;
}

std::size_t positive_axis(int64_t axis, std::size_t rank) {
  return static_cast<std::size_t>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

}  // namespace detail

std::vector<RefTensor> run_op(const std::string& op, const std::vector<RefTensor>& inputs,
                              const AttrMap& attrs) {
  const OpSchema* schema = find_op(op);
  const detail::Kernel kernel = detail::find_kernel(op);
  if (schema == nullptr || kernel == nullptr) {
    std::string valid;
    for (const std::string& name : op_names()) valid += (valid.empty() ? "" : ", ") + name;
    throw InputError("reference: unknown op '" + op + "'; valid ops: " + valid);
  }
  const auto count = static_cast<int>(inputs.size());
  if (count < schema->min_inputs || (schema->max_inputs >= 0 && count > schema->max_inputs)) {
    throw InputError(
        "reference: op '" + op + "' got " + std::to_string(count) + " inputs; it takes " +
        std::to_string(schema->min_inputs) +
        (schema->max_inputs < 0 ? " or more" : " to " + std::to_string(schema->max_inputs)));
  }
  std::vector<schema::TensorType> types;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const RefTensor& input = inputs[i];
    if (static_cast<int64_t>(input.data.size()) != element_count(input.shape)) {
      throw InputError("reference: op '" + op + "' input " + std::to_string(i) + " has shape " +
                       shape_to_string(input.shape) + " but " + std::to_string(input.data.size()) +
                       " values");
    }
    types.push_back({input.dtype, input.shape});
  }
  const AttrMap resolved = resolve_attrs(*schema, attrs);
  std::vector<schema::ConcreteOutput> out_types;
  try {
    out_types = schema::infer(*schema, types, resolved);
  } catch (const std::invalid_argument& e) {
    throw InputError("reference: op '" + op + "': " + e.what());
  }
  std::vector<RefTensor> outputs;
  for (schema::ConcreteOutput& type : out_types) {
    RefTensor out{type.dtype, std::move(type.dims), {}};
    // A data-dependent output (nonzero, masked_select): its kernel sets
    // the shape and data itself.
    if (type.data_dependent()) out.shape[type.data_dependent_dim] = 0;
    out.data.assign(static_cast<std::size_t>(element_count(out.shape)), 0.0);
    outputs.push_back(std::move(out));
  }
  kernel(inputs, resolved, outputs);
  return outputs;
}

}  // namespace rtscope::reference
