// FuseGraph and Rewrite, see fuse_graph.hpp.
#include "fuse_graph.hpp"

#include <algorithm>

#include "rtscope/op_registry.hpp"

namespace rtscope::onnx_import {

std::optional<int64_t> int_attr(const Node& node, const std::string& name, int64_t fallback) {
  auto it = node.attrs.find(name);
  if (it == node.attrs.end()) return fallback;
  const auto* v = std::get_if<int64_t>(&it->second);
  return v == nullptr ? std::nullopt : std::optional<int64_t>(*v);
}

std::optional<std::vector<int64_t>> ints_attr(const Node& node, const std::string& name) {
  auto it = node.attrs.find(name);
  if (it == node.attrs.end()) return std::nullopt;
  const auto* v = std::get_if<std::vector<int64_t>>(&it->second);
  return v == nullptr ? std::nullopt : std::optional<std::vector<int64_t>>(*v);
}

std::string Rewrite::add(const std::string& op, std::vector<std::string> inputs, AttrMap attrs,
                         std::string out) {
  if (!ok_) return {};
  const OpSchema* schema = find_op(op);
  std::vector<ValueType> in_types;
  for (const std::string& in : inputs) in_types.push_back(type(in));
  std::vector<ValueType> out_types;
  try {
    if (schema == nullptr || schema->num_outputs != 1) throw std::invalid_argument(op);
    out_types = schema->infer(in_types, resolve_attrs(*schema, attrs));
  } catch (const std::exception&) {
    // A pattern whose pieces the fused op does not accept stays as it is.
    ok_ = false;
    return {};
  }
  if (out.empty()) out = graph_.fresh(inputs.empty() ? op : inputs[0] + "/" + op);
  Node node;
  node.name = graph_.fresh(out + "/" + op);
  node.op = op;
  node.inputs = std::move(inputs);
  node.outputs = {out};
  node.attrs = std::move(attrs);
  node.loc.file = graph_.ctx().file;
  types_[out] = out_types[0];
  nodes_.push_back(std::move(node));
  return out;
}

ValueType Rewrite::type(const std::string& value) const {
  if (auto it = types_.find(value); it != types_.end()) return it->second;
  return graph_.type(value);
}

FuseGraph::FuseGraph(Context& ctx) : ctx_(ctx) { index(); }

void FuseGraph::index() {
  producer_.clear();
  uses_.clear();
  weights_.clear();
  escaping_.clear();
  const Graph& g = ctx_.graph;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& out : g.nodes[i].outputs) producer_[out] = i;
    for (const std::string& in : g.nodes[i].inputs) ++uses_[in];
  }
  for (std::size_t i = 0; i < g.weights.size(); ++i) weights_[g.weights[i].info.name] = i;
  for (const std::string& out : g.outputs) escaping_.insert(out);
  for (const StateBuffer& s : g.states) escaping_.insert(s.update_from);
}

const Node* FuseGraph::producer(const std::string& value) const {
  auto it = producer_.find(value);
  return it == producer_.end() ? nullptr : &ctx_.graph.nodes[it->second];
}

const Node* FuseGraph::produced_by(const std::string& value, std::string_view op) const {
  const Node* node = producer(value);
  return node != nullptr && node->op == op && node->outputs.size() == 1 ? node : nullptr;
}

std::size_t FuseGraph::uses(const std::string& value) const {
  auto it = uses_.find(value);
  return (it == uses_.end() ? 0 : it->second) + escaping_.count(value);
}

std::vector<const Node*> FuseGraph::readers(const std::string& value) const {
  std::vector<const Node*> found;
  for (const Node& node : ctx_.graph.nodes) {
    if (std::find(node.inputs.begin(), node.inputs.end(), value) != node.inputs.end()) {
      found.push_back(&node);
    }
  }
  return found;
}

std::string FuseGraph::skip_identities(const std::string& value) const {
  std::string v = value;
  while (const Node* r = produced_by(v, "reshape")) {
    if (r->inputs.size() != 1 || type(r->inputs[0]) != type(v)) break;
    v = r->inputs[0];
  }
  return v;
}

const Tensor* FuseGraph::weight(const std::string& value) const {
  auto it = weights_.find(value);
  if (it == weights_.end()) return nullptr;
  const Weight& w = ctx_.graph.weights[it->second];
  return w.init.kind == WeightInit::Kind::tensor ? &w.init.data : nullptr;
}

std::optional<double> FuseGraph::scalar(const std::string& value) const {
  if (const Tensor* t = weight(value)) {
    if (t->numel() != 1) return std::nullopt;
    return t->to_doubles()[0];
  }
  const Node* node = producer(value);
  if (node == nullptr || node->inputs.size() != 1 || node->outputs.size() != 1) return std::nullopt;
  if (node->op == "reshape" || node->op == "cast_f32" || node->op == "cast_f16") {
    return scalar(node->inputs[0]);
  }
  return std::nullopt;
}

const StateBuffer* FuseGraph::state(const std::string& value) const {
  for (const StateBuffer& s : ctx_.graph.states) {
    if (s.info.name == value) return &s;
  }
  return nullptr;
}

bool FuseGraph::commit(const std::string& out, Rewrite& rewrite, bool retype) {
  auto at = producer_.find(out);
  if (!rewrite.ok_ || rewrite.nodes_.empty() || at == producer_.end() ||
      rewrite.nodes_.back().outputs[0] != out) {
    return false;
  }
  if (!retype && rewrite.types_.at(out) != type(out)) return false;
  std::vector<Node>& nodes = ctx_.graph.nodes;
  const std::size_t position = at->second;
  // The last new node takes the replaced node's name, so messages and
  // traces keep naming the ONNX node it came from.
  rewrite.nodes_.back().name = nodes[position].name;
  nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(position));
  nodes.insert(nodes.begin() + static_cast<std::ptrdiff_t>(position),
               std::make_move_iterator(rewrite.nodes_.begin()),
               std::make_move_iterator(rewrite.nodes_.end()));
  for (auto& [name, t] : rewrite.types_) ctx_.types[name] = t;
  rewrite.nodes_.clear();
  rewrite.types_.clear();
  index();
  return true;
}

void FuseGraph::retype_state(const std::string& name, const ValueType& type) {
  for (StateBuffer& s : ctx_.graph.states) {
    if (s.info.name == name) s.info.type = type;
  }
  ctx_.types[name] = type;
}

void FuseGraph::remove_dead() {
  Graph& g = ctx_.graph;
  std::vector<std::string> pending(escaping_.begin(), escaping_.end());
  std::vector<bool> live(g.nodes.size(), false);
  while (!pending.empty()) {
    const std::string value = std::move(pending.back());
    pending.pop_back();
    auto it = producer_.find(value);
    if (it == producer_.end() || live[it->second]) continue;
    live[it->second] = true;
    for (const std::string& in : g.nodes[it->second].inputs) pending.push_back(in);
  }
  std::vector<Node> kept;
  std::set<std::string> read;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (!live[i]) continue;
    for (const std::string& in : g.nodes[i].inputs) read.insert(in);
    kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
  g.weights.erase(std::remove_if(g.weights.begin(), g.weights.end(),
                                 [&](const Weight& w) {
                                   return !read.count(w.info.name) && !escaping_.count(w.info.name);
                                 }),
                  g.weights.end());
  index();
}

}  // namespace rtscope::onnx_import
