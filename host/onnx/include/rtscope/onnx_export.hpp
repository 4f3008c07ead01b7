// ONNX export of rtscope graphs whose ops have a direct ONNX form (the
// built-in MLP and graph files of elementwise, linear, norm and layout
// ops), and of the built-in decoder with past/present KV I/O as Hugging
// Face exports have it, so the same model runs in rtscope and in ONNX
// Runtime. Weights become raw_data initializers; symbols become dim_params.
#pragma once

#include <filesystem>

#include "rtscope/graph.hpp"
#include "rtscope/templates.hpp"

namespace rtscope {

// Writes `graph` (validated) as an ONNX model with opset 17. Throws
// InputError naming the node when an op has no ONNX form (attention, rope,
// kv_cache_update, nonzero with max_count, masked_select, ...) or the graph
// has state buffers.
void export_onnx(const Graph& graph, const std::filesystem::path& path);

// How an exported decoder's KV cache passes from step to step.
enum class KvCacheStyle {
  // present.N.* = Concat(past_key_values.N.*, this step's rows) on the
  // sequence axis; past_len is a dim_param (0 on the first step).
  concat,
  // past and present hold max_seq rows; the step's rows are written at
  // position_ids with ScatterElements (a runtime may bind present to
  // past's buffer and update it in place).
  fixed,
};

// The built-in decoder (the weights of build_decoder(params), same seed) as
// an opset-17 model: inputs input_ids and position_ids i64 [batch, seq],
// past_key_values.N.key/value [batch, kv_heads, past_len, head_dim];
// outputs logits [batch, seq, vocab] and present.N.key/value. RMSNorm,
// RoPE (cos/sin tables gathered by position_ids), attention with a causal
// mask computed from position_ids, and SwiGLU are written as standard ops.
void export_decoder_onnx(const DecoderParams& params, KvCacheStyle style,
                         const std::filesystem::path& path);

// A ResNet-18-shaped CNN (torchvision's layout: Conv+BatchNormalization+
// Relu, MaxPool, residual Add, GlobalAveragePool, Gemm) with seeded
// weights, input `input` f32 [N, 3, image, image], output `logits`
// [N, classes]: a Conv2d model to run in rtscope and ONNX Runtime alike.
struct ResNetParams {
  int64_t image = 224;
  int64_t classes = 1000;
  uint64_t seed = 0;
};
void export_resnet18_onnx(const ResNetParams& params, const std::filesystem::path& path);

}  // namespace rtscope
