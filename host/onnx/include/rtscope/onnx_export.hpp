// ONNX export of rtscope graphs whose ops have a direct ONNX form (the
// built-in MLP and graph files of elementwise, linear, norm and layout
// ops), so the same model runs in rtscope and in ONNX Runtime. Weights
// become raw_data initializers; symbols become dim_params.
#pragma once

#include <filesystem>

#include "rtscope/graph.hpp"

namespace rtscope {

// Writes `graph` (validated) as an ONNX model with opset 17. Throws
// InputError naming the node when an op has no ONNX form (attention, rope,
// kv_cache_update, nonzero with max_count, masked_select, ...) or the graph
// has state buffers.
void export_onnx(const Graph& graph, const std::filesystem::path& path);

}  // namespace rtscope
