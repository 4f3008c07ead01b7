// Context: messages, attribute and constant access, and node emission with
// type inference by the op schema.
#include "context.hpp"

#include <cmath>
#include <stdexcept>

#include "onnx_tensor.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::onnx_import {

void Context::begin_node(const onnx::NodeProto& node, std::size_t index) {
  node_ = &node;
  node_index_ = index;
  emitted_in_node_ = 0;
}

int64_t Context::opset() const {
  auto it = opsets.find(node_->domain() == "ai.onnx" ? "" : node_->domain());
  return it == opsets.end() ? 0 : it->second;
}

std::string Context::where() const {
  if (node_ == nullptr) return file;
  const std::string& domain = node_->domain();
  const std::string label =
      node_->name().empty() ? node_->op_type() + " #" + std::to_string(node_index_) : node_->name();
  return file + ": node '" + label + "' (" + node_->op_type() + ", domain " +
         (domain.empty() ? std::string("ai.onnx") : domain) + ", opset " + std::to_string(opset()) +
         ")";
}

void Context::fail(const std::string& message) const { throw InputError(where() + ": " + message); }

void Context::unsupported(const std::string& message) const {
  throw InputError(where() + ": " + kUnsupported + message);
}

std::size_t Context::input_count() const { return static_cast<std::size_t>(node_->input_size()); }

const std::string& Context::input(std::size_t index) const {
  static const std::string kAbsent;
  if (index >= input_count()) return kAbsent;
  return node_->input(static_cast<int>(index));
}

bool Context::has_input(std::size_t index) const { return !input(index).empty(); }

const std::string& Context::output(std::size_t index) const {
  if (index >= static_cast<std::size_t>(node_->output_size())) {
    fail("has " + std::to_string(node_->output_size()) + " outputs, output " +
         std::to_string(index) + " was asked for");
  }
  return node_->output(static_cast<int>(index));
}

const onnx::AttributeProto* Context::attr(const std::string& name) const {
  for (const auto& attribute : node_->attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

bool Context::has_attr(const std::string& name) const { return attr(name) != nullptr; }

int64_t Context::attr_int(const std::string& name, int64_t fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::INT) fail("attribute '" + name + "' must be an INT");
  return a->i();
}

double Context::attr_float(const std::string& name, double fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::FLOAT) fail("attribute '" + name + "' must be a FLOAT");
  return a->f();
}

std::string Context::attr_string(const std::string& name, const std::string& fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::STRING) fail("attribute '" + name + "' must be a STRING");
  return a->s();
}

std::vector<int64_t> Context::attr_ints(const std::string& name,
                                        const std::vector<int64_t>& fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (a->type() != onnx::AttributeProto::INTS) fail("attribute '" + name + "' must be INTS");
  return {a->ints().begin(), a->ints().end()};
}

std::vector<double> Context::attr_floats(const std::string& name) const {
  const auto* a = attr(name);
  if (a == nullptr) return {};
  if (a->type() != onnx::AttributeProto::FLOATS) fail("attribute '" + name + "' must be FLOATS");
  return {a->floats().begin(), a->floats().end()};
}

void Context::only_attrs(std::initializer_list<const char*> handled) const {
  for (const auto& attribute : node_->attribute()) {
    bool known = false;
    for (const char* name : handled) known = known || attribute.name() == name;
    if (!known) unsupported("attribute '" + attribute.name() + "' is not supported");
  }
}

const Tensor* Context::constant(const std::string& name) const {
  auto it = constants.find(name);
  return it == constants.end() ? nullptr : &it->second;
}

std::vector<double> Context::constant_doubles(const std::string& name, const char* role) const {
  const Tensor* t = constant(name);
  if (t == nullptr) {
    unsupported(std::string(role) + " '" + name +
                "' must be known at import time (a constant or computed from shapes)");
  }
  return t->to_doubles();
}

std::vector<int64_t> Context::constant_ints(const std::string& name, const char* role) const {
  const Tensor* t = constant(name);
  if (t == nullptr) {
    unsupported(std::string(role) + " '" + name +
                "' must be known at import time (a constant or computed from shapes)");
  }
  if (t->dtype() == DType::i64) {
    return {t->data_as<int64_t>(), t->data_as<int64_t>() + t->numel()};
  }
  std::vector<int64_t> values;
  for (double v : t->to_doubles()) values.push_back(static_cast<int64_t>(v));
  return values;
}

ValueType Context::type(const std::string& name) const {
  if (auto it = types.find(name); it != types.end()) return it->second;
  if (const Tensor* t = constant(name)) {
    ValueType type{t->dtype(), {}};
    for (int64_t d : t->shape()) type.shape.push_back(Dim::fixed(d));
    return type;
  }
  fail("input '" + name + "' is not defined before this node (dangling input)");
}

bool Context::is_static(const std::string& name) const {
  for (const Dim& d : type(name).shape) {
    if (!d.is_static()) return false;
  }
  return true;
}

Shape Context::static_shape(const std::string& name) const {
  const ValueType t = type(name);
  Shape shape;
  for (const Dim& d : t.shape) {
    if (!d.is_static()) {
      unsupported("value '" + name + "' has the dynamic shape " + t.str() +
                  "; give concrete input shapes (--shapes or the model's 'shapes:')");
    }
    shape.push_back(d.value);
  }
  return shape;
}

std::string Context::fresh(const std::string& hint) {
  std::string name = hint;
  while (!names.insert(name).second) name = hint + "/" + std::to_string(++fresh_counter_);
  return name;
}

std::string Context::add_weight(const std::string& hint, Tensor data) {
  const std::string name = fresh(hint);
  Weight weight;
  weight.info.name = name;
  weight.info.type.dtype = data.dtype();
  for (int64_t d : data.shape()) weight.info.type.shape.push_back(Dim::fixed(d));
  weight.info.loc.file = file;
  weight.init.kind = WeightInit::Kind::tensor;
  weight.init.data = std::move(data);
  types[name] = weight.info.type;
  graph.weights.push_back(std::move(weight));
  return name;
}

std::string Context::add_scalar(const std::string& hint, double value, DType dtype,
                                const Shape& shape) {
  Tensor t = Tensor::empty(dtype, shape);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::f32:
        t.data_as<float>()[i] = static_cast<float>(value);
        break;
      case DType::f16:
        t.data_as<uint16_t>()[i] = float_to_half(static_cast<float>(value));
        break;
      case DType::i32:
        t.data_as<int32_t>()[i] = static_cast<int32_t>(value);
        break;
      case DType::i64:
        t.data_as<int64_t>()[i] = static_cast<int64_t>(value);
        break;
      case DType::boolean:
        t.data_as<uint8_t>()[i] = value != 0;
        break;
    }
  }
  return add_weight(hint, std::move(t));
}

std::string Context::value(const std::string& name) {
  if (types.count(name)) return name;
  if (auto it = weight_of_.find(name); it != weight_of_.end()) return it->second;
  const Tensor* t = constant(name);
  if (t == nullptr) type(name);  // fails naming the dangling input
  // A graph output keeps its name for the node that produces it.
  names.erase(name);
  const std::string weight =
      add_weight(graph_outputs.count(name) ? name + "/value" : name, *constant(name));
  weight_of_[name] = weight;
  return weight;
}

std::vector<std::string> Context::emit_n(const std::string& op, std::vector<std::string> inputs,
                                         AttrMap attrs, std::vector<std::string> outs) {
  const OpSchema* schema = find_op(op);
  if (schema == nullptr) fail("maps onto unknown rtscope op '" + op + "'");
  std::vector<ValueType> in_types;
  for (std::string& in : inputs) {
    in = value(in);
    in_types.push_back(type(in));
  }
  std::vector<ValueType> out_types;
  try {
    out_types = schema->infer(in_types, resolve_attrs(*schema, attrs));
  } catch (const std::exception& e) {
    unsupported("rtscope op '" + op + "' rejects it: " + e.what());
  }
  const std::string base = node_->name().empty() ? node_->op_type() : node_->name();
  Node node;
  node.name = fresh(emitted_in_node_ == 0 ? base : base + "/" + op);
  ++emitted_in_node_;
  node.op = op;
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  node.loc.file = file;
  for (std::size_t o = 0; o < out_types.size(); ++o) {
    std::string out =
        o < outs.size() && !outs[o].empty() ? outs[o] : fresh(base + "/" + op + "_out");
    names.insert(out);
    // Symbols inference could not name stay unique to this value.
    for (std::size_t d = 0; d < out_types[o].shape.size(); ++d) {
      Dim& dim = out_types[o].shape[d];
      if (!dim.is_static() && dim.symbol.starts_with("?"))
        dim.symbol = out + "_d" + std::to_string(d);
    }
    types[out] = out_types[o];
    node.outputs.push_back(out);
  }
  std::vector<std::string> result = node.outputs;
  graph.nodes.push_back(std::move(node));
  return result;
}

std::string Context::emit(const std::string& op, std::vector<std::string> inputs, AttrMap attrs,
                          std::string out) {
  return emit_n(op, std::move(inputs), std::move(attrs), {std::move(out)})[0];
}

std::string Context::reshape(const std::string& in, const Shape& shape, std::string out) {
  return emit("reshape", {in}, {{"shape", std::vector<int64_t>(shape)}}, std::move(out));
}

void Context::identity(const std::string& in, const std::string& out) {
  if (const Tensor* t = constant(in); t != nullptr && !graph_outputs.count(out)) {
    constants[out] = *t;
    return;
  }
  const ValueType t = type(in);
  std::vector<int64_t> shape;
  for (const Dim& d : t.shape) shape.push_back(d.is_static() ? d.value : 0);
  // 0 copies the input's dim, so symbolic dims pass through.
  emit("reshape", {in}, {{"shape", shape}}, out);
}

}  // namespace rtscope::onnx_import
