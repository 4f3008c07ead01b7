// A convolution whose kernel is 1 in every spatial dim (ResNet's
// downsampling shortcuts, bottleneck and MobileNet pointwise layers): a
// product of the weights [M, C] with the input's channels [C, positions],
// computed by oneDNN's sgemm in the graph's own layout, split over the
// pool by output channels. A stride first gathers the positions it reads
// into a dense copy (a quarter of the input at stride 2), where the
// blocked oneDNN forms reorder the whole input in and the output back.
#pragma once

#include <memory>
#include <span>

#include "kernels/op_spec.hpp"

namespace rtscope::cpu {

// One group, no padding, and a kernel of 1 in every spatial dim.
bool pointwise_conv_supports(const NodeDesc& node, std::span<const Dims* const> inputs);

// The gather buffer of a strided node (none when every stride is 1).
std::shared_ptr<PreparedKernel> prepare_pointwise_conv(const NodeDesc& node,
                                                       std::span<const TensorRef> inputs,
                                                       std::span<const TensorRef> outputs,
                                                       const KernelTuning& tuning);

// Runs the node with the prepared state; false when there is none (the
// caller then runs the generic kernel).
bool run_pointwise_conv(const KernelArgs& args);

}  // namespace rtscope::cpu
