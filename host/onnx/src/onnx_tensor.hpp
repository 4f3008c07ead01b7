// TensorProto → Tensor: raw_data, the typed fields and external data
// (memory-mapped). Sizes from the file are checked before anything is
// allocated or read.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "rtscope/tensor.hpp"

namespace rtscope::onnx_import {

// rtscope's dtype for an ONNX element type; nullopt when it has none.
std::optional<DType> dtype_of(int32_t elem_type);
// "FLOAT", "DOUBLE", ... for messages.
std::string elem_type_name(int32_t elem_type);

struct TensorSource {
  std::string what;                   // "initializer 'w' of model.onnx", for messages
  std::filesystem::path dir;          // folder external data is looked up in
  std::shared_ptr<const void> owner;  // keeps the proto's bytes alive (no copy)
};

// The tensor's values; shares the proto's bytes or the mapped file when
// they are aligned for the dtype, copies otherwise.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const TensorSource& source);

// The tensor's dims, checked (non-negative, count fits in int64).
Shape dims_of(const onnx::TensorProto& proto, const std::string& what);

}  // namespace rtscope::onnx_import
