// conv through oneDNN's convolution_forward: a tuning candidate next to
// im2col + OpenBLAS sgemm (kernels/window_ops.cpp). Everything that depends
// only on the node and its shapes is built once, when the plan is
// specialized: the primitives, the weights reordered into the layout the
// primitive asked for (format_tag::any), the scratchpad. An execute only
// points the primitives at its tensors and runs them.
//
// Source and destination stay in the graph's plain layout (ncw, nchw,
// ncdhw), so no reorder runs per execute. The output channels (or, with
// groups, the groups) are split into `tuning.grain` slices with a
// primitive each, which run on the plugin's pool with oneDNN single-
// threaded inside, like the oneDNN products (onednn_gemm.hpp).
#pragma once

#include <memory>
#include <span>

#include "kernels/op_spec.hpp"

namespace rtscope::cpu {

// Whether oneDNN's convolution takes this node at these shapes: f32, one
// to three spatial dims. Slices beyond what the channels allow are not
// offered.
bool onednn_conv_supports(std::span<const Dims* const> inputs, std::span<const Dims> outputs);

// The most slices worth offering: one per pool thread, each with at
// least a few output channels (or groups).
int64_t onednn_conv_max_slices(const NodeDesc& node, const Dims& weights, unsigned threads);

// PrepareFn of the oneDNN conv variant: primitives for `tuning.grain`
// slices (0 or 1: one), weights reordered now when input 1 is a
// constant. Throws Error naming the node when oneDNN has no
// implementation for it.
std::shared_ptr<PreparedKernel> prepare_onednn_conv(const NodeDesc& node,
                                                    std::span<const TensorRef> inputs,
                                                    std::span<const TensorRef> outputs,
                                                    const KernelTuning& tuning);

// Runs the node on the state prepare_onednn_conv() built; false when
// `args` carries none (the caller then runs another kernel). Weights
// other than the constant they were prepared from (a runtime input) are
// reordered on every call into the state's own buffer.
bool run_onednn_conv(const KernelArgs& args);

}  // namespace rtscope::cpu
