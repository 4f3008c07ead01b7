#include "rtscope/kit/op_attrs.hpp"

#include <algorithm>

namespace rtscope::kit {

int normalize_axis(const NodeDesc& node, int64_t axis, size_t rank) {
  const int64_t signed_rank = static_cast<int64_t>(rank);
  const int64_t normalized = axis < 0 ? axis + signed_rank : axis;
  if (normalized < 0 || normalized >= signed_rank) {
    fail_node(node, "axis ", axis, " is out of range for rank ", rank);
  }
  return static_cast<int>(normalized);
}

std::array<int, RTS_MAX_RANK> resolve_perm(const NodeDesc& node, size_t rank) {
  const std::vector<int64_t>& perm = node.attr_ints("perm");
  if (perm.size() != rank) {
    fail_node(node, "perm ", ints_str(perm), " has ", perm.size(), " entries for rank ", rank);
  }
  std::array<int, RTS_MAX_RANK> resolved{};
  std::array<bool, RTS_MAX_RANK> seen{};
  for (size_t i = 0; i < rank; ++i) {
    const int axis = normalize_axis(node, perm[i], rank);
    if (seen[axis]) fail_node(node, "perm ", ints_str(perm), " is not a permutation");
    seen[axis] = true;
    resolved[i] = axis;
  }
  return resolved;
}

SliceRange resolve_slice(const NodeDesc& node, std::span<const int64_t> dims) {
  const int axis = normalize_axis(node, node.attr_int("axis"), dims.size());
  const int64_t length = dims[axis];
  auto clamp_index = [length](int64_t index) {
    if (index < 0) index += length;
    return std::clamp<int64_t>(index, 0, length);
  };
  const int64_t start = clamp_index(node.attr_int("start"));
  const int64_t end = std::max(start, clamp_index(node.attr_int("end")));
  return {axis, start, end};
}

AxisView view_around_axis(const NodeDesc& node, std::span<const int64_t> dims) {
  const int axis = normalize_axis(node, node.attr_int("axis", -1), dims.size());
  AxisView view;
  for (int i = 0; i < axis; ++i) view.outer *= dims[i];
  view.length = dims[axis];
  for (size_t i = axis + 1; i < dims.size(); ++i) view.inner *= dims[i];
  return view;
}

std::vector<int64_t> contiguous_strides(std::span<const int64_t> dims) {
  std::vector<int64_t> strides(dims.size());
  int64_t stride = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= dims[i];
  }
  return strides;
}

}  // namespace rtscope::kit
