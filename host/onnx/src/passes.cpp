// fold_batchnorm() and live_nodes(), see passes.hpp.
#include "passes.hpp"

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "context.hpp"

namespace rtscope::onnx_import {
namespace {

const onnx::AttributeProto* find_attr(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

// The values of a constant f32 tensor, or empty when it is not one.
std::vector<double> f32_values(const Context& ctx, const std::string& name) {
  const Tensor* t = ctx.constant(name);
  if (t == nullptr || t->dtype() != DType::f32) return {};
  return t->to_doubles();
}

Tensor f32_tensor(const Shape& shape, const std::vector<double>& values) {
  Tensor t = Tensor::empty(DType::f32, shape);
  for (std::size_t i = 0; i < values.size(); ++i)
    t.data_as<float>()[i] = static_cast<float>(values[i]);
  return t;
}

struct Uses {
  std::map<std::string, int> count;
  std::set<std::string> outputs;
};

Uses count_uses(const onnx::GraphProto& graph) {
  Uses uses;
  for (const auto& node : graph.node()) {
    for (const std::string& in : node.input()) ++uses.count[in];
  }
  for (const auto& out : graph.output()) uses.outputs.insert(out.name());
  return uses;
}

// The per-channel factor and shift of a BatchNormalization, or empty when
// any parameter is not a constant.
bool batchnorm_affine(const Context& ctx, const onnx::NodeProto& bn, std::vector<double>& factor,
                      std::vector<double>& shift) {
  if (bn.input_size() < 5 || bn.output_size() != 1) return false;  // training outputs
  if (const auto* training = find_attr(bn, "training_mode"); training && training->i() != 0) {
    return false;
  }
  const auto* eps_attr = find_attr(bn, "epsilon");
  const double eps = eps_attr ? eps_attr->f() : 1e-5;
  const auto scale = f32_values(ctx, bn.input(1));
  const auto bias = f32_values(ctx, bn.input(2));
  const auto mean = f32_values(ctx, bn.input(3));
  const auto var = f32_values(ctx, bn.input(4));
  const std::size_t c = scale.size();
  if (c == 0 || bias.size() != c || mean.size() != c || var.size() != c) return false;
  factor.resize(c);
  shift.resize(c);
  for (std::size_t i = 0; i < c; ++i) {
    factor[i] = scale[i] / std::sqrt(var[i] + eps);
    shift[i] = bias[i] - mean[i] * factor[i];
  }
  return true;
}

bool fold_into_conv(Context& ctx, onnx::NodeProto& conv, const std::vector<double>& factor,
                    const std::vector<double>& shift) {
  if (conv.input_size() < 2) return false;
  const Tensor* w = ctx.constant(conv.input(1));
  if (w == nullptr || w->dtype() != DType::f32 || w->shape().empty() ||
      w->shape()[0] != static_cast<int64_t>(factor.size())) {
    return false;
  }
  std::vector<double> bias(factor.size(), 0.0);
  if (conv.input_size() > 2 && !conv.input(2).empty()) {
    bias = f32_values(ctx, conv.input(2));
    if (bias.size() != factor.size()) return false;
  }
  std::vector<double> weights = w->to_doubles();
  const std::size_t per_channel = weights.size() / factor.size();
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] *= factor[i / per_channel];
  for (std::size_t m = 0; m < bias.size(); ++m) bias[m] = bias[m] * factor[m] + shift[m];
  const std::string w_name = ctx.fresh(conv.input(1) + "/bn_folded");
  const std::string b_name = ctx.fresh(conv.output(0) + "/bn_bias");
  ctx.constants[w_name] = f32_tensor(w->shape(), weights);
  ctx.constants[b_name] = f32_tensor({static_cast<int64_t>(bias.size())}, bias);
  conv.set_input(1, w_name);
  if (conv.input_size() > 2) {
    conv.set_input(2, b_name);
  } else {
    conv.add_input(b_name);
  }
  return true;
}

bool fold_into_gemm(Context& ctx, onnx::NodeProto& gemm, const std::vector<double>& factor,
                    const std::vector<double>& shift) {
  if (gemm.input_size() < 2) return false;
  const Tensor* b = ctx.constant(gemm.input(1));
  const auto* trans_attr = find_attr(gemm, "transB");
  const bool trans_b = trans_attr && trans_attr->i() != 0;
  const auto n = static_cast<int64_t>(factor.size());
  if (b == nullptr || b->dtype() != DType::f32 || b->shape().size() != 2 ||
      b->shape()[trans_b ? 0 : 1] != n) {
    return false;
  }
  const auto* beta_attr = find_attr(gemm, "beta");
  const double beta = beta_attr ? beta_attr->f() : 1.0;
  std::vector<double> c(factor.size(), 0.0);
  if (gemm.input_size() > 2 && !gemm.input(2).empty()) {
    const auto given = f32_values(ctx, gemm.input(2));
    const Tensor* c_tensor = ctx.constant(gemm.input(2));
    // Only a per-column C ([N], [1, N] or a scalar) folds into a bias.
    if (c_tensor == nullptr || c_tensor->numel() == 0 ||
        (given.size() != 1 && given.size() != factor.size()) ||
        (c_tensor->shape().size() == 2 && c_tensor->shape()[0] != 1)) {
      return false;
    }
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = beta * given[given.size() == 1 ? 0 : i];
  }
  std::vector<double> weights = b->to_doubles();
  const int64_t rows = b->shape()[0];
  const int64_t cols = b->shape()[1];
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t col = 0; col < cols; ++col) weights[r * cols + col] *= factor[trans_b ? r : col];
  }
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = c[i] * factor[i] + shift[i];
  const std::string b_name = ctx.fresh(gemm.input(1) + "/bn_folded");
  const std::string c_name = ctx.fresh(gemm.output(0) + "/bn_bias");
  ctx.constants[b_name] = f32_tensor(b->shape(), weights);
  ctx.constants[c_name] = f32_tensor({n}, c);
  gemm.set_input(1, b_name);
  if (gemm.input_size() > 2) {
    gemm.set_input(2, c_name);
  } else {
    gemm.add_input(c_name);
  }
  bool has_beta = false;
  for (auto& a : *gemm.mutable_attribute()) {
    if (a.name() == "beta") {
      a.set_f(1.0f);
      has_beta = true;
    }
  }
  if (!has_beta) {
    auto* a = gemm.add_attribute();
    a->set_name("beta");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(1.0f);
  }
  return true;
}

}  // namespace

void fold_batchnorm(Context& ctx, onnx::GraphProto& graph) {
  const Uses uses = count_uses(graph);
  std::map<std::string, int> producer;
  for (int i = 0; i < graph.node_size(); ++i) {
    for (const std::string& out : graph.node(i).output()) producer[out] = i;
  }
  std::set<int> removed;
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& bn = graph.node(i);
    if (bn.op_type() != "BatchNormalization" || !bn.domain().empty() || bn.input_size() < 1) {
      continue;
    }
    auto p = producer.find(bn.input(0));
    if (p == producer.end() || uses.outputs.count(bn.input(0))) continue;
    if (auto u = uses.count.find(bn.input(0)); u == uses.count.end() || u->second != 1) continue;
    onnx::NodeProto& before = *graph.mutable_node(p->second);
    if (before.output_size() != 1 || !before.domain().empty()) continue;
    std::vector<double> factor;
    std::vector<double> shift;
    if (!batchnorm_affine(ctx, bn, factor, shift)) continue;
    const bool folded =
        (before.op_type() == "Conv" && fold_into_conv(ctx, before, factor, shift)) ||
        (before.op_type() == "Gemm" && fold_into_gemm(ctx, before, factor, shift));
    if (!folded) continue;
    before.set_output(0, bn.output(0));
    removed.insert(i);
  }
  if (removed.empty()) return;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (!removed.count(i)) *kept.Add() = graph.node(i);
  }
  graph.mutable_node()->Swap(&kept);
}

namespace {

// Every name the nodes of `graph` and of its own subgraphs read: a control
// flow node's body reads outer values without listing them as inputs.
void subgraph_reads(const onnx::GraphProto& graph, std::set<std::string>& names) {
  for (const onnx::NodeProto& node : graph.node()) {
    for (const std::string& in : node.input()) {
      if (!in.empty()) names.insert(in);
    }
    for (const onnx::AttributeProto& attr : node.attribute()) {
      if (attr.has_g()) subgraph_reads(attr.g(), names);
      for (const onnx::GraphProto& g : attr.graphs()) subgraph_reads(g, names);
    }
  }
}

}  // namespace

std::vector<bool> live_nodes(const onnx::GraphProto& graph) {
  std::set<std::string> needed;
  for (const auto& out : graph.output()) needed.insert(out.name());
  std::vector<bool> live(static_cast<std::size_t>(graph.node_size()), false);
  // Nodes are topologically sorted (the checker requires it), so one
  // backward sweep finds every producer of a needed value.
  for (int i = graph.node_size(); i-- > 0;) {
    const onnx::NodeProto& node = graph.node(i);
    bool used = false;
    for (const std::string& out : node.output()) used = used || needed.count(out) > 0;
    if (!used) continue;
    live[static_cast<std::size_t>(i)] = true;
    for (const std::string& in : node.input()) {
      if (!in.empty()) needed.insert(in);
    }
    for (const onnx::AttributeProto& attr : node.attribute()) {
      if (attr.has_g()) subgraph_reads(attr.g(), needed);
      for (const onnx::GraphProto& g : attr.graphs()) subgraph_reads(g, needed);
    }
  }
  return live;
}

}  // namespace rtscope::onnx_import
