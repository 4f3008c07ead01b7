// OnnxWriter, see onnx_writer.hpp.
#include "onnx_writer.hpp"

#include <fstream>

#include "rtscope/error.hpp"

namespace rtscope::onnx_export {

int32_t elem_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return onnx::TensorProto::FLOAT;
    case DType::f16:
      return onnx::TensorProto::FLOAT16;
    case DType::i32:
      return onnx::TensorProto::INT32;
    case DType::i64:
      return onnx::TensorProto::INT64;
    case DType::boolean:
      return onnx::TensorProto::BOOL;
  }
  return onnx::TensorProto::UNDEFINED;
}

void set_shape(onnx::TensorShapeProto& shape, const std::vector<Dim>& dims) {
  shape.clear_dim();
  for (const Dim& d : dims) {
    auto* dim = shape.add_dim();
    if (d.is_static()) {
      dim->set_dim_value(d.value);
    } else {
      dim->set_dim_param(d.symbol);
    }
  }
}

void value_info(onnx::ValueInfoProto& info, const std::string& name, const ValueType& type) {
  info.set_name(name);
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elem_type(type.dtype));
  set_shape(*tensor->mutable_shape(), type.shape);
}

OnnxWriter::OnnxWriter(const std::string& name) {
  model_.set_ir_version(8);
  model_.set_producer_name("rtscope");
  auto* opset = model_.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  graph_ = model_.mutable_graph();
  graph_->set_name(name);
}

void OnnxWriter::input(const std::string& name, const ValueType& type) {
  value_info(*graph_->add_input(), name, type);
}

void OnnxWriter::output(const std::string& name, const ValueType& type) {
  value_info(*graph_->add_output(), name, type);
}

std::string OnnxWriter::tensor(const std::string& name, const Tensor& t) {
  auto* proto = graph_->add_initializer();
  proto->set_name(name);
  proto->set_data_type(elem_type(t.dtype()));
  for (int64_t d : t.shape()) proto->add_dims(d);
  const Tensor host = t.to_host();
  proto->set_raw_data(std::string(static_cast<const char*>(host.data()), host.size_bytes()));
  return name;
}

std::string OnnxWriter::ints(const std::string& name, const std::vector<int64_t>& values,
                             bool scalar) {
  const Shape shape = scalar ? Shape{} : Shape{static_cast<int64_t>(values.size())};
  return tensor(name, Tensor::from_bytes(DType::i64, shape, values.data()));
}

std::string OnnxWriter::scalar(const std::string& name, DType dtype, double value) {
  Tensor t = Tensor::empty(dtype, {});
  if (dtype == DType::f16) {
    *t.data_as<uint16_t>() = float_to_half(static_cast<float>(value));
  } else {
    *t.data_as<float>() = static_cast<float>(value);
  }
  return tensor(name, t);
}

onnx::NodeProto& OnnxWriter::node(const std::string& op, const std::vector<std::string>& inputs,
                                  const std::vector<std::string>& outputs) {
  auto* n = graph_->add_node();
  n->set_name(outputs.empty() ? op : outputs[0]);
  n->set_op_type(op);
  for (const auto& in : inputs) n->add_input(in);
  for (const auto& out : outputs) n->add_output(out);
  return *n;
}

std::string OnnxWriter::op(const std::string& op, const std::vector<std::string>& inputs,
                           const std::string& out) {
  node(op, inputs, {out});
  return out;
}

void OnnxWriter::set_int(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void OnnxWriter::set_float(onnx::NodeProto& n, const std::string& name, double v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}

void OnnxWriter::set_ints(onnx::NodeProto& n, const std::string& name,
                          const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void OnnxWriter::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !model_.SerializeToOstream(&out)) {
    throw InputError(path + ": cannot write the ONNX model");
  }
}

}  // namespace rtscope::onnx_export
