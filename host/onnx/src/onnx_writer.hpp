// Building an ONNX model from C++ (the exporters): initializers from
// tensors, nodes with attributes, typed graph inputs and outputs.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::onnx_export {

// The ONNX element type of an rtscope dtype.
int32_t elem_type(DType dtype);

// Replaces `shape`'s dims with `dims` (symbols as dim_params).
void set_shape(onnx::TensorShapeProto& shape, const std::vector<Dim>& dims);

// Writes `name: dtype[shape]` (symbols as dim_params) into `info`.
void value_info(onnx::ValueInfoProto& info, const std::string& name, const ValueType& type);

class OnnxWriter {
 public:
  // An opset-17 model (ai.onnx only) with one graph named `name`.
  explicit OnnxWriter(const std::string& name);

  onnx::ModelProto& model() { return model_; }
  onnx::GraphProto& graph() { return *graph_; }

  void input(const std::string& name, const ValueType& type);
  void output(const std::string& name, const ValueType& type);
  // An initializer holding `t` as raw_data; returns `name`.
  std::string tensor(const std::string& name, const Tensor& t);
  // A 1-D (or, with `scalar`, rank-0) int64 initializer.
  std::string ints(const std::string& name, const std::vector<int64_t>& values,
                   bool scalar = false);
  // A rank-0 float initializer of `dtype` (f32 or f16).
  std::string scalar(const std::string& name, DType dtype, double value);

  // Appends a node; its name is its first output's.
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs);
  // The same with one output, returned.
  std::string op(const std::string& op, const std::vector<std::string>& inputs,
                 const std::string& out);

  static void set_int(onnx::NodeProto& n, const std::string& name, int64_t v);
  static void set_float(onnx::NodeProto& n, const std::string& name, double v);
  static void set_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);

  // Serializes the model to `path`; a write failure is an InputError.
  void save(const std::string& path) const;

 private:
  onnx::ModelProto model_;
  onnx::GraphProto* graph_;
};

}  // namespace rtscope::onnx_export
