// ONNX import: a .onnx file becomes an rtscope Graph (then Model::build as
// for any graph). Lives in its own library (rtscope::onnx) so the host does
// not depend on protobuf.
//
// The importer runs ONNX's checker and shape inference, checks every opset
// and domain, folds constant shape arithmetic, removes dead nodes, folds
// BatchNormalization into a preceding Conv or Gemm, and maps each ONNX node
// onto ops of the op schema (docs/onnx.md has the table). Every error is an
// InputError of one line naming the file, and where there is one the node,
// its op type, domain and opset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope {

struct OnnxImportOptions {
  // Concrete shapes of graph inputs by name; they replace the declared
  // ones (a dim_param becomes that size). Inputs left symbolic keep their
  // dim_param as an rtscope symbol with range [1, symbol_max].
  std::map<std::string, std::vector<int64_t>> shapes;
  int64_t symbol_max = 4096;
  // Inputs whose values are fixed at import (shape, axes or index inputs
  // that the model computes from): they become constants, so shape
  // arithmetic on them folds. They are no longer graph inputs.
  std::map<std::string, Tensor> values;
  // Past/present KV pairs of decoder exports (present output → past
  // input) held as in-place state: the past becomes a state buffer that
  // kv_cache_update writes at the step's first position (position_ids[0,
  // 0]), and neither is graph I/O any more; a `logits` output gains
  // `next_token` (its argmax). Declared pairs must be such an update
  // (Concat on axis 2, ScatterElements on axis 2, ScatterND); with
  // detect_kv_alias, in a model with a position_ids input, every output
  // that is one of a rank-4 input is paired too.
  std::map<std::string, std::string> alias;
  bool detect_kv_alias = true;
  // Fuse decomposed blocks of exported decoders back into rtscope's ops
  // (docs/onnx.md, "Fusion"): MatMul with a constant weight → linear,
  // x·Sigmoid(x) → silu, RMSNorm → rmsnorm, and, where KV pairs are
  // in-place state, rotate-half RoPE → rope and masked softmax attention
  // over the caches → attention. Patterns that do not match exactly stay
  // as they are; false keeps every node as mapped.
  bool fuse = true;
  // Run onnx::checker before anything else.
  bool check = true;
};

// Reads `path` and returns a validated graph named after the file's stem.
Graph import_onnx(const std::filesystem::path& path, const OnnxImportOptions& options = {});

// The same from bytes in memory; `file_name` names the model in messages
// and is the folder external data is looked up from.
Graph import_onnx_bytes(const void* data, std::size_t size, const std::filesystem::path& file_name,
                        const OnnxImportOptions& options = {});

// The names of a model's graph inputs (those without an initializer), in
// order, read without importing the model.
std::vector<std::string> onnx_input_names(const std::filesystem::path& path);

// A serialized TensorProto file (ONNX test data: input_0.pb): its values
// and its name (empty when the file has none). Raw and typed fields are
// read; a dtype rtscope has no type for is an InputError naming it.
struct OnnxTensorFile {
  std::string name;
  Tensor tensor;
};
OnnxTensorFile load_onnx_tensor(const std::filesystem::path& path);

// Why an ONNX element type has no rtscope dtype ("DOUBLE"), or empty.
std::string onnx_type_name(int32_t elem_type);

}  // namespace rtscope
