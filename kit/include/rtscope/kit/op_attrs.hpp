// Node attributes read the way every kernel of an op needs them, so that
// the backends resolve an axis, a permutation or a slice alike. The op
// schema has already checked kinds and presence; these resolve values
// against concrete shapes and throw naming the node (fail_node).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "rtscope/kit/error.hpp"
#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

template <typename... Parts>
[[noreturn]] void fail_node(const NodeDesc& node, const Parts&... parts) {
  fail_invalid(node.label(), ": ", parts...);
}

// Maps a possibly negative axis onto [0, rank); throws naming the node.
int normalize_axis(const NodeDesc& node, int64_t axis, size_t rank);

// The "perm" attribute with negative entries resolved; throws unless it is
// a permutation of `rank` axes.
std::array<int, RTS_MAX_RANK> resolve_perm(const NodeDesc& node, size_t rank);

// The "axis", "start" and "end" attributes of a slice of `dims`, negative
// indices counted from the end and clamped to the axis (end >= start).
struct SliceRange {
  int axis;
  int64_t start;
  int64_t end;
};
SliceRange resolve_slice(const NodeDesc& node, std::span<const int64_t> dims);

// `dims` viewed as [outer, length, inner] around the node's "axis"
// attribute (default -1), as softmax and argmax reduce along it.
struct AxisView {
  int64_t outer = 1;
  int64_t length = 1;
  int64_t inner = 1;
};
AxisView view_around_axis(const NodeDesc& node, std::span<const int64_t> dims);

// Row-major strides of `dims`.
std::vector<int64_t> contiguous_strides(std::span<const int64_t> dims);

}  // namespace rtscope::kit
