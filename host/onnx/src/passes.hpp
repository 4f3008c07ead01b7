// Graph passes on the ONNX graph before mapping: BatchNormalization folded
// into the Conv or Gemm before it, and the nodes no output needs.
#pragma once

#include <onnx/onnx_pb.h>

#include <vector>

namespace rtscope::onnx_import {

class Context;

// Folds each inference-mode BatchNormalization whose input is the only use
// of a Conv's or Gemm's output with constant weights: the scaled weights
// and bias become new constants of `ctx`, the BatchNormalization node goes.
void fold_batchnorm(Context& ctx, onnx::GraphProto& graph);

// Per node: whether a graph output depends on it.
std::vector<bool> live_nodes(const onnx::GraphProto& graph);

}  // namespace rtscope::onnx_import
