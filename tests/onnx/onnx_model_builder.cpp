// OnnxModelBuilder, see onnx_model_builder.hpp.
#include "onnx_model_builder.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "rtscope/onnx_import.hpp"

namespace rtscope::testing {

OnnxModelBuilder::OnnxModelBuilder(int64_t opset) {
  model_.set_ir_version(8);
  auto* import = model_.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

// Names `value` a tensor of `elem_type` with `dims`; a dim < 0 becomes the
// dim_param `symbol`, or stays unknown when `symbol` is empty.
void describe_tensor(onnx::ValueInfoProto& value, const std::string& name,
                     const std::vector<int64_t>& dims, int32_t elem_type,
                     const std::string& symbol) {
  value.set_name(name);
  auto* tensor = value.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  auto* shape = tensor->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d >= 0) {
      dim->set_dim_value(d);
    } else if (!symbol.empty()) {
      dim->set_dim_param(symbol);
    }
  }
}

OnnxModelBuilder& OnnxModelBuilder::input(const std::string& name, const std::vector<int64_t>& dims,
                                          int32_t elem_type, const std::string& symbol) {
  describe_tensor(*model_.mutable_graph()->add_input(), name, dims, elem_type, symbol);
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::output(const std::string& name,
                                           const std::vector<int64_t>& dims, int32_t elem_type) {
  describe_tensor(*model_.mutable_graph()->add_output(), name, dims, elem_type, "");
  return *this;
}

namespace {
onnx::TensorProto& add_tensor(onnx::ModelProto& model, const std::string& name,
                              const std::vector<int64_t>& dims, int32_t type) {
  auto* t = model.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  return *t;
}
}  // namespace

OnnxModelBuilder& OnnxModelBuilder::raw_floats(const std::string& name,
                                               const std::vector<int64_t>& dims,
                                               const std::vector<float>& values) {
  auto& t = add_tensor(model_, name, dims, onnx::TensorProto::FLOAT);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::typed_floats(const std::string& name,
                                                 const std::vector<int64_t>& dims,
                                                 const std::vector<float>& values) {
  auto& t = add_tensor(model_, name, dims, onnx::TensorProto::FLOAT);
  for (float v : values) t.add_float_data(v);
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::ints(const std::string& name, const std::vector<int64_t>& dims,
                                         const std::vector<int64_t>& values) {
  auto& t = add_tensor(model_, name, dims, onnx::TensorProto::INT64);
  for (int64_t v : values) t.add_int64_data(v);
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::external_floats(const std::string& name,
                                                    const std::vector<int64_t>& dims,
                                                    const std::vector<float>& values,
                                                    const std::string& location, int64_t offset) {
  auto& t = add_tensor(model_, name, dims, onnx::TensorProto::FLOAT);
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* where = t.add_external_data();
  where->set_key("location");
  where->set_value(location);
  auto* at = t.add_external_data();
  at->set_key("offset");
  at->set_value(std::to_string(offset));
  external_.push_back({location, offset, values});
  return *this;
}

onnx::NodeProto& OnnxModelBuilder::node(const std::string& op,
                                        const std::vector<std::string>& inputs,
                                        const std::vector<std::string>& outputs,
                                        const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + std::to_string(model_.graph().node_size()) : name);
  for (const auto& in : inputs) n->add_input(in);
  for (const auto& out : outputs) n->add_output(out);
  return *n;
}

std::string OnnxModelBuilder::bytes() const { return model_.SerializeAsString(); }

std::filesystem::path OnnxModelBuilder::write(const std::filesystem::path& dir,
                                              const std::string& file) const {
  std::filesystem::create_directories(dir);
  for (const External& e : external_) {
    const auto path = dir / e.location;
    std::filesystem::create_directories(path.parent_path());
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    if (!out) out.open(path, std::ios::binary | std::ios::out);
    out.seekp(e.offset);
    out.write(reinterpret_cast<const char*>(e.values.data()),
              static_cast<std::streamsize>(e.values.size() * 4));
  }
  const auto path = dir / file;
  std::ofstream(path, std::ios::binary) << bytes();
  return path;
}

void set_attr(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void set_attr(onnx::NodeProto& node, const std::string& name, float value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void set_attr(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : value) a->add_ints(v);
}

void set_attr(onnx::NodeProto& node, const std::string& name, const std::vector<float>& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (float v : value) a->add_floats(v);
}

void set_attr(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

void set_attr(onnx::NodeProto& node, const std::string& name, const onnx::GraphProto& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::GRAPH);
  *a->mutable_g() = value;
}

void set_attr(onnx::NodeProto& node, const std::string& name,
              const std::vector<std::string>& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRINGS);
  for (const std::string& v : value) a->add_strings(v);
}

namespace {

std::string dir_prefix() { return "rtscope_onnx_" + std::to_string(::getpid()) + "_"; }

// Removes this process's test folders when the tests end.
class RemoveTestDirs : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), error)) {
      if (entry.path().filename().string().starts_with(dir_prefix())) {
        std::filesystem::remove_all(entry.path(), error);
      }
    }
  }
};

[[maybe_unused]] ::testing::Environment* const kRemoveTestDirs =
    ::testing::AddGlobalTestEnvironment(new RemoveTestDirs);

}  // namespace

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / (dir_prefix() + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string import_error(const OnnxModelBuilder& model, const std::string& dir) {
  try {
    import_onnx(model.write(fresh_dir(dir)), {});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace rtscope::testing
