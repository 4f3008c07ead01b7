// conv through oneDNN's convolution_forward: a tuning candidate next to
// im2col + OpenBLAS sgemm (kernels/window_ops.cpp). Everything that depends
// only on the node and its shapes is built once, when the plan is
// specialized: the primitives, the weights reordered into the layout the
// primitive asked for (format_tag::any), the scratchpad. An execute only
// points the primitives at its tensors and runs them.
//
// Two layouts: the graph's plain one (ncw, nchw, ncdhw), which oneDNN runs
// as im2col + its own sgemm with no reorder per execute; and the blocked
// one (16 channels innermost), which its direct vector kernels want: the
// input is reordered into it and each output slice back, per execute,
// both by channel slices over the pool. The output channels (or, with
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

// Whether the blocked layout applies: one group, output channels in
// whole blocks.
bool onednn_conv_blocked_supports(const NodeDesc& node, const Dims& weights);

// Whether oneDNN's Winograd convolution may apply: 2d, 3x3, stride and
// dilation 1, one group, input and output channels in whole blocks.
// oneDNN may still refuse a shape (prepare then fails).
bool onednn_conv_winograd_supports(const NodeDesc& node, std::span<const Dims* const> inputs);

// The most slices worth offering: one per pool thread, each with at
// least a few output channels (or groups).
int64_t onednn_conv_max_slices(const NodeDesc& node, const Dims& weights, unsigned threads);

// The forms of oneDNN's convolution that tuning offers.
enum class OnednnConvForm {
  kPlain,         // the graph's layout: oneDNN's im2col + sgemm
  kBlocked,       // 16 channels innermost: its direct vector kernels
  kBlockedRows,   // the same, slices split by output rows
  kWinograd,      // blocked, Winograd (2d 3x3 stride 1)
  kWinogradRows,  // the same, slices split by output rows
};

// PrepareFn of each form: primitives for `tuning.grain` slices (0 or 1:
// one), split by output channels (or groups) or, for the *Rows forms, by
// rows of the first spatial dim (2 or 3 spatial dims): each row slice
// copies the input rows it reads (halo included) into a buffer of its own
// and computes every channel of its rows with the whole weights (one
// reordered copy where the slices' layouts agree). Weights are reordered
// now when input 1 is a constant. Throws Error naming the node when
// oneDNN has no fast implementation for it (only its reference one).
//
// Winograd (F(2x2,3x3) or F(4x4,3x3), oneDNN's choice) needs about half
// the multiplications of the direct form for 3x3 stride-1 convolutions,
// with rounding errors a few times larger (still well within 1e-4 of the
// float64 result at the channel counts of CNNs).
template <OnednnConvForm Form>
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
