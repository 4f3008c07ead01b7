// linear on weights packed once per plan: a oneDNN matmul primitive whose
// weights are declared format_tag::any, so that oneDNN picks the blocked
// layout its kernel reads fastest; the node's constant weights are
// reordered into it when the plan is specialized, and the primitive is
// created there too, once per shape. A run only points the primitive's
// source and destination at this execute's tensors and executes it.
//
// Offered from two output rows on. Every execute of a oneDNN 2.6
// primitive builds a std::unordered_map of its arguments (six heap
// allocations per call), which a single-row decode step must not do; at
// one row it also measured no faster than dnnl_sgemm for the decoder's
// products (see plugins/cpu/README.md). XNNPACK's fully-connected operator
// on packed weights, allocation-free, was never the fastest (1.25-2.8x the
// primitive's time), so it is not a candidate.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/op_spec.hpp"

namespace rtscope::cpu {

// Appends the packed candidates for a linear node producing `m` rows of
// `n` columns from weights [k, n]: all columns on the calling thread, and,
// with more than one pool thread, column blocks of `split_grain` over the
// pool (one primitive and one packed slice of the weights per block). The
// tuner offers them only where weights and bias are engine constants.
void add_packed_linear_variants(int64_t m, int64_t n, int64_t k, unsigned threads,
                                int64_t split_grain, std::vector<KernelVariant>& variants);

}  // namespace rtscope::cpu
