// A parsed .onnx file, shared by every import of it. A decoder and its
// prefill model are often two imports of one file with different input
// shapes; parsing it twice would hold its weights twice on the host, and
// because a plugin shares device copies only of the same host bytes
// (the Vulkan plugin's shared constants), twice on the device too. So an
// import takes the file's parse and initializer tensors from a live
// earlier import when the file is unchanged (same device, inode, size and
// modification time), and works on a copy of the model without the
// weights' bytes, since it rewrites the graph (input shapes, inferred
// types) for its own options.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "onnx_tensor.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::onnx_import {

class ParsedModel : public std::enable_shared_from_this<ParsedModel> {
 public:
  // Throws InputError naming `file` when the bytes are no ONNX model.
  ParsedModel(const void* data, std::size_t size, const std::filesystem::path& file);

  // The model as parsed, weights included: what the checker reads.
  const onnx::ModelProto& full() const { return *full_; }
  // A copy of the model whose initializers keep their names, types and dims
  // but not their raw bytes, for an import to rewrite.
  std::shared_ptr<onnx::ModelProto> working_copy() const;
  // The initializers' values in their order in the graph, made once (the
  // first call's errors are thrown to it and retried by the next call).
  // The tensors keep this model alive, so a later import of the same file
  // finds it while any graph holds one of its weights.
  std::vector<Tensor> initializers(const TensorSource& source_template) const;

 private:
  std::shared_ptr<const onnx::ModelProto> full_;
  onnx::ModelProto skeleton_;
  mutable std::mutex mutex_;
  mutable std::optional<std::vector<Tensor>> initializers_;
};

// The parse of `path`, shared with any live import of the same unchanged
// file. Throws InputError naming the file (missing, not regular, too big,
// not ONNX).
std::shared_ptr<const ParsedModel> open_model(const std::filesystem::path& path);

}  // namespace rtscope::onnx_import
