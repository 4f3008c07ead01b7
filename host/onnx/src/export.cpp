// export_onnx(), see rtscope/onnx_export.hpp.
#include <onnx/onnx_pb.h>

#include <fstream>

#include "onnx_writer.hpp"
#include "rtscope/error.hpp"
#include "rtscope/onnx_export.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope {
namespace {

using onnx_export::elem_type;
using onnx_export::value_info;

class Exporter {
 public:
  explicit Exporter(const Graph& graph) : graph_(graph) {
    model_.set_ir_version(8);
    model_.set_producer_name("rtscope");
    auto* opset = model_.add_opset_import();
    opset->set_domain("");
    opset->set_version(17);
    out_ = model_.mutable_graph();
    out_->set_name(graph.name);
  }

  onnx::ModelProto run() {
    if (!graph_.states.empty()) {
      throw InputError("graph '" + graph_.name + "': state buffers (" + graph_.states[0].info.name +
                       ", ...) have no ONNX form; export a graph without them");
    }
    for (const ValueInfo& in : graph_.inputs) value_info(*out_->add_input(), in.name, in.type);
    for (const std::string& out : graph_.outputs) {
      value_info(*out_->add_output(), out, graph_.type_of(out));
    }
    for (const Weight& w : graph_.weights) add_tensor(w.info.name, materialize_weight(w));
    for (const Node& node : graph_.nodes) export_node(node);
    return model_;
  }

 private:
  void add_tensor(const std::string& name, const Tensor& t) {
    auto* proto = out_->add_initializer();
    proto->set_name(name);
    proto->set_data_type(elem_type(t.dtype()));
    for (int64_t d : t.shape()) proto->add_dims(d);
    const Tensor host = t.to_host();
    proto->set_raw_data(std::string(static_cast<const char*>(host.data()), host.size_bytes()));
  }

  std::string constant_ints(const std::string& hint, const std::vector<int64_t>& values) {
    Tensor t = Tensor::from_bytes(DType::i64, {static_cast<int64_t>(values.size())}, values.data());
    const std::string name = hint + "/" + std::to_string(counter_++);
    add_tensor(name, t);
    return name;
  }

  onnx::NodeProto& emit(const Node& node, const std::string& op, std::vector<std::string> inputs,
                        std::vector<std::string> outputs, const std::string& suffix = "") {
    auto* n = out_->add_node();
    n->set_name(node.name + suffix);
    n->set_op_type(op);
    for (const auto& in : inputs) n->add_input(in);
    for (const auto& out : outputs) n->add_output(out);
    return *n;
  }

  static void set_int(onnx::NodeProto& n, const std::string& name, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void set_float(onnx::NodeProto& n, const std::string& name, double v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(v));
  }
  static void set_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  void export_node(const Node& node) {
    const AttrMap attrs = resolve_attrs(*find_op(node.op), node.attrs);
    const std::string& out = node.outputs[0];
    static const std::map<std::string, std::string, std::less<>> same = {
        {"add", "Add"}, {"sub", "Sub"},   {"mul", "Mul"},         {"relu", "Relu"},
        {"div", "Div"}, {"exp", "Exp"},   {"log", "Log"},         {"sqrt", "Sqrt"},
        {"neg", "Neg"}, {"tanh", "Tanh"}, {"sigmoid", "Sigmoid"}, {"erf", "Erf"},
        {"abs", "Abs"}, {"max", "Max"},   {"min", "Min"}};
    if (auto it = same.find(node.op); it != same.end()) {
      emit(node, it->second, node.inputs, node.outputs);
      return;
    }
    if (node.op == "linear" || node.op == "matmul") {
      if (node.op == "matmul" && schema::attr_int(attrs, "transpose_b") != 0) {
        throw InputError("node '" + node.name + "' (matmul): transpose_b has no export yet");
      }
      const bool bias = node.inputs.size() > 2;
      emit(node, "MatMul", {node.inputs[0], node.inputs[1]}, {bias ? out + "/matmul" : out});
      if (bias) emit(node, "Add", {out + "/matmul", node.inputs[2]}, {out}, "/bias");
      return;
    }
    if (node.op == "scale") {
      Tensor factor = Tensor::empty(graph_.type_of(node.inputs[0]).dtype, {});
      const double f = schema::attr_real(attrs, "factor");
      if (factor.dtype() == DType::f16) {
        *factor.data_as<uint16_t>() = float_to_half(static_cast<float>(f));
      } else {
        *factor.data_as<float>() = static_cast<float>(f);
      }
      const std::string name = out + "/factor";
      add_tensor(name, factor);
      emit(node, "Mul", {node.inputs[0], name}, node.outputs);
      return;
    }
    if (node.op == "gelu") {
      // 0.5·x·(1 + erf(x/√2)) in opset-17 ops.
      const DType dtype = graph_.type_of(node.inputs[0]).dtype;
      const auto scalar = [&](const std::string& suffix, float v) {
        Tensor t = Tensor::empty(dtype, {});
        if (dtype == DType::f16) {
          *t.data_as<uint16_t>() = float_to_half(v);
        } else {
          *t.data_as<float>() = v;
        }
        add_tensor(out + suffix, t);
        return out + suffix;
      };
      emit(node, "Mul", {node.inputs[0], scalar("/inv_sqrt2", 0.70710678f)}, {out + "/scaled"},
           "/scale");
      emit(node, "Erf", {out + "/scaled"}, {out + "/erf"}, "/erf");
      emit(node, "Add", {out + "/erf", scalar("/one", 1.0f)}, {out + "/plus1"}, "/add");
      emit(node, "Mul", {node.inputs[0], out + "/plus1"}, {out + "/prod"}, "/mul");
      emit(node, "Mul", {out + "/prod", scalar("/half", 0.5f)}, node.outputs, "/half");
      return;
    }
    if (node.op == "silu") {
      emit(node, "Sigmoid", {node.inputs[0]}, {out + "/sigmoid"}, "/sigmoid");
      emit(node, "Mul", {node.inputs[0], out + "/sigmoid"}, node.outputs);
      return;
    }
    if (node.op == "softmax" || node.op == "log_softmax") {
      set_int(
          emit(node, node.op == "softmax" ? "Softmax" : "LogSoftmax", node.inputs, node.outputs),
          "axis", schema::attr_int(attrs, "axis"));
      return;
    }
    if (node.op == "layernorm") {
      auto& n = emit(node, "LayerNormalization", node.inputs, node.outputs);
      set_int(n, "axis", -1);
      set_float(n, "epsilon", schema::attr_real(attrs, "eps"));
      return;
    }
    if (node.op == "reshape") {
      emit(node, "Reshape",
           {node.inputs[0], constant_ints(out + "/shape", schema::attr_ints(attrs, "shape"))},
           node.outputs);
      return;
    }
    if (node.op == "transpose") {
      set_ints(emit(node, "Transpose", node.inputs, node.outputs), "perm",
               schema::attr_ints(attrs, "perm"));
      return;
    }
    if (node.op == "concat") {
      set_int(emit(node, "Concat", node.inputs, node.outputs), "axis",
              schema::attr_int(attrs, "axis"));
      return;
    }
    if (node.op == "slice") {
      emit(node, "Slice",
           {node.inputs[0], constant_ints(out + "/starts", {schema::attr_int(attrs, "start")}),
            constant_ints(out + "/ends", {schema::attr_int(attrs, "end")}),
            constant_ints(out + "/axes", {schema::attr_int(attrs, "axis")})},
           node.outputs);
      return;
    }
    if (node.op == "embedding") {
      set_int(emit(node, "Gather", {node.inputs[0], node.inputs[1]}, node.outputs), "axis", 0);
      return;
    }
    throw InputError((node.loc.str().empty() ? graph_.name : node.loc.str()) + ": node '" +
                     node.name + "' (" + node.op + ") has no ONNX export");
  }

  const Graph& graph_;
  onnx::ModelProto model_;
  onnx::GraphProto* out_ = nullptr;
  int counter_ = 0;
};

}  // namespace

void export_onnx(const Graph& graph, const std::filesystem::path& path) {
  const onnx::ModelProto model = Exporter(graph).run();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !model.SerializeToOstream(&out)) {
    throw InputError(path.string() + ": cannot write the ONNX model");
  }
}

}  // namespace rtscope
