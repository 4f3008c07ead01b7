// max_pool and avg_pool through oneDNN's pooling_v2_forward: a tuning
// candidate next to the plugin's own window loops (kernels/window_ops.cpp).
// The primitives are built once per node and plan; planes stay in the
// graph's plain layout and are split by channel slices over the pool,
// oneDNN single-threaded inside each.
#pragma once

#include <memory>
#include <span>

#include "kernels/op_spec.hpp"

namespace rtscope::cpu {

// Whether oneDNN's pooling takes this node at these shapes: one to three
// spatial dims, no dilation, and for avg_pool counting padding, no window
// reaching past the declared end padding (ceil_mode), which oneDNN would
// count.
bool onednn_pool_supports(const NodeDesc& node, std::span<const Dims* const> inputs,
                          std::span<const Dims> outputs);

// PrepareFns, `tuning.grain` channel slices per image (0 or 1: one).
// Throw Error naming the node when oneDNN has only its reference
// implementation for the shape.
std::shared_ptr<PreparedKernel> prepare_onednn_max_pool(const NodeDesc& node,
                                                        std::span<const TensorRef> inputs,
                                                        std::span<const TensorRef> outputs,
                                                        const KernelTuning& tuning);
std::shared_ptr<PreparedKernel> prepare_onednn_avg_pool(const NodeDesc& node,
                                                        std::span<const TensorRef> inputs,
                                                        std::span<const TensorRef> outputs,
                                                        const KernelTuning& tuning);

// Runs the node on the prepared state; false when `args` carries none.
bool run_onednn_pool(const KernelArgs& args);

}  // namespace rtscope::cpu
