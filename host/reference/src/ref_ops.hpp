// Kernels of the float64 reference, one per op, and helpers they share.
//
// run_op() checks arity, attributes and shapes through the op's schema
// before a kernel runs, so kernels may assume well-formed inputs and only
// check values (positions, ids). `out` arrives with dtype, shape and zeroed
// data already set from the schema's inferred types.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rtscope/reference/reference.hpp"

namespace rtscope::reference::detail {

using Kernel = void (*)(const std::vector<RefTensor>& in, const AttrMap& attrs,
                        std::vector<RefTensor>& out);

// nullptr when the reference has no kernel of that name.
Kernel find_kernel(std::string_view op);
// Every kernel by op name; each group's file adds its own (ref_math.cpp,
// ref_window.cpp, ref_select.cpp, ref_index.cpp), ref_run_op.cpp the rest.
using KernelTable = std::map<std::string, Kernel, std::less<>>;
void add_math_kernels(KernelTable& table);
void add_window_kernels(KernelTable& table);
void add_select_kernels(KernelTable& table);
void add_index_kernels(KernelTable& table);

// For every element of a tensor of shape `out` (row-major), the flat index of
// the element of a tensor of shape `in` that numpy broadcasting reads.
std::vector<int64_t> broadcast_sources(const Shape& out, const Shape& in);

// The position of batch row `row` from a `pos` input of [1] (shared by
// every row) or [batch] values; throws InputError if it is negative or not
// integral.
int64_t position_of(const RefTensor& pos, int64_t row, std::string_view op);

// Sizes before, along and after `axis`, for loops over one axis.
struct AxisSplit {
  int64_t outer = 1;
  int64_t length = 1;
  int64_t inner = 1;
};
AxisSplit split_at(const Shape& shape, std::size_t axis);

// Axis in [-rank, rank) to [0, rank); shapes were already checked.
std::size_t positive_axis(int64_t axis, std::size_t rank);

// Kernels by op (ref_elementwise.cpp, ref_linalg.cpp, ref_norm.cpp,
// ref_attention.cpp, ref_layout.cpp).
void add_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void sub_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void mul_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void scale_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void relu_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void gelu_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void silu_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void matmul_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void linear_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void det_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void softmax_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void layernorm_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void rmsnorm_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void rope_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void attention_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void kv_cache_update_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void embedding_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void reshape_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void transpose_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void concat_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void slice_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void argmax_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
// Data-dependent outputs: these set out[0].shape and data themselves.
void nonzero_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);
void masked_select_kernel(const std::vector<RefTensor>&, const AttrMap&, std::vector<RefTensor>&);

}  // namespace rtscope::reference::detail
