// Builds small ONNX models in memory for the importer's tests (and writes
// them, with external data files, into a temporary folder).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rtscope::testing {

class OnnxModelBuilder {
 public:
  explicit OnnxModelBuilder(int64_t opset = 13);

  // A graph input or output; a dim < 0 is the dim_param `symbol`.
  OnnxModelBuilder& input(const std::string& name, const std::vector<int64_t>& dims,
                          int32_t elem_type = onnx::TensorProto::FLOAT,
                          const std::string& symbol = "N");
  // A dim < 0 of an output is left unknown (neither value nor param).
  OnnxModelBuilder& output(const std::string& name, const std::vector<int64_t>& dims,
                           int32_t elem_type = onnx::TensorProto::FLOAT);
  // Initializers: float values in raw_data or float_data; int64 in int64_data.
  OnnxModelBuilder& raw_floats(const std::string& name, const std::vector<int64_t>& dims,
                               const std::vector<float>& values);
  OnnxModelBuilder& typed_floats(const std::string& name, const std::vector<int64_t>& dims,
                                 const std::vector<float>& values);
  OnnxModelBuilder& ints(const std::string& name, const std::vector<int64_t>& dims,
                         const std::vector<int64_t>& values);
  // An initializer whose values live in `location` (relative to the model),
  // written there by write().
  OnnxModelBuilder& external_floats(const std::string& name, const std::vector<int64_t>& dims,
                                    const std::vector<float>& values, const std::string& location,
                                    int64_t offset = 0);
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");

  onnx::ModelProto& model() { return model_; }
  std::string bytes() const;
  // Writes model.onnx (and external data files) into `dir`; returns the path.
  std::filesystem::path write(const std::filesystem::path& dir,
                              const std::string& file = "model.onnx") const;

 private:
  onnx::ModelProto model_;
  struct External {
    std::string location;
    int64_t offset;
    std::vector<float> values;
  };
  std::vector<External> external_;
};

void set_attr(onnx::NodeProto& node, const std::string& name, int64_t value);
void set_attr(onnx::NodeProto& node, const std::string& name, float value);
void set_attr(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& value);
void set_attr(onnx::NodeProto& node, const std::string& name, const std::vector<float>& value);
void set_attr(onnx::NodeProto& node, const std::string& name, const std::string& value);
void set_attr(onnx::NodeProto& node, const std::string& name,
              const std::vector<std::string>& value);
// A subgraph (If's branches, Loop's and Scan's body).
void set_attr(onnx::NodeProto& node, const std::string& name, const onnx::GraphProto& value);

// Names `value` a tensor of `elem_type` with `dims` (a graph's or a
// subgraph's input or output); a dim < 0 becomes the dim_param `symbol`.
void describe_tensor(onnx::ValueInfoProto& value, const std::string& name,
                     const std::vector<int64_t>& dims, int32_t elem_type,
                     const std::string& symbol = "N");

// The message of the error importing `model` (written into a fresh folder
// named `dir`) raises; "no error" when it imports.
std::string import_error(const OnnxModelBuilder& model, const std::string& dir);

// A fresh empty folder under the test temp dir.
std::filesystem::path fresh_dir(const std::string& name);

}  // namespace rtscope::testing
