// fuse_patterns(), fuse_linear() and fuse_silu(), see fuse_patterns.hpp.
#include "fuse_patterns.hpp"

#include "fuse_graph.hpp"

namespace rtscope::onnx_import {
namespace {

// The outputs of every `op` node, collected before a pass rewrites any.
std::vector<std::string> outputs_of(const FuseGraph& g, std::string_view op) {
  std::vector<std::string> outs;
  for (const Node& node : g.graph().nodes) {
    if (node.op == op && node.outputs.size() == 1) outs.push_back(node.outputs[0]);
  }
  return outs;
}

// linear(x, w) for matmul(x, w) with w a constant [in, out].
bool to_linear(FuseGraph& g, const std::string& out) {
  const Node* mm = g.produced_by(out, "matmul");
  if (mm == nullptr || mm->inputs.size() != 2 || int_attr(*mm, "transpose_b", 0) != 0) return false;
  const Tensor* w = g.weight(mm->inputs[1]);
  if (w == nullptr || w->shape().size() != 2) return false;
  Rewrite r(g);
  r.add("linear", {mm->inputs[0], mm->inputs[1]}, {}, out);
  return g.commit(out, r);
}

// linear(x, w, b) for add(linear(x, w), b) with b a constant [out] and the
// product read by nothing else.
bool to_linear_bias(FuseGraph& g, const std::string& out) {
  const Node* add = g.produced_by(out, "add");
  if (add == nullptr || add->inputs.size() != 2) return false;
  for (int side = 0; side < 2; ++side) {
    const std::string& product = add->inputs[static_cast<std::size_t>(side)];
    const std::string& bias = add->inputs[static_cast<std::size_t>(1 - side)];
    const Node* lin = g.produced_by(product, "linear");
    const Tensor* b = g.weight(bias);
    if (lin == nullptr || lin->inputs.size() != 2 || g.uses(product) != 1 || b == nullptr ||
        b->shape().size() != 1) {
      continue;
    }
    Rewrite r(g);
    r.add("linear", {lin->inputs[0], lin->inputs[1], bias}, {}, out);
    return g.commit(out, r);
  }
  return false;
}

// silu(x) for mul(x, sigmoid(x)) in either order.
bool to_silu(FuseGraph& g, const std::string& out) {
  const Node* mul = g.produced_by(out, "mul");
  if (mul == nullptr || mul->inputs.size() != 2) return false;
  for (int side = 0; side < 2; ++side) {
    const std::string& x = mul->inputs[static_cast<std::size_t>(side)];
    const Node* sig = g.produced_by(mul->inputs[static_cast<std::size_t>(1 - side)], "sigmoid");
    if (sig == nullptr || sig->inputs.size() != 1 || sig->inputs[0] != x) continue;
    Rewrite r(g);
    r.add("silu", {x}, {}, out);
    return g.commit(out, r);
  }
  return false;
}

}  // namespace

std::size_t fuse_linear(FuseGraph& g) {
  std::size_t count = 0;
  for (const std::string& out : outputs_of(g, "matmul")) count += to_linear(g, out);
  for (const std::string& out : outputs_of(g, "add")) count += to_linear_bias(g, out);
  return count;
}

std::size_t fuse_silu(FuseGraph& g) {
  std::size_t count = 0;
  for (const std::string& out : outputs_of(g, "mul")) count += to_silu(g, out);
  return count;
}

FuseCounts fuse_patterns(Context& ctx) {
  FuseGraph g(ctx);
  FuseCounts counts;
  counts.linear = fuse_linear(g);
  counts.silu = fuse_silu(g);
  counts.rmsnorm = fuse_rmsnorm(g);
  counts.rope = fuse_rope(g);
  counts.attention = fuse_attention(g, counts.grouped_attention);
  g.remove_dead();
  return counts;
}

}  // namespace rtscope::onnx_import
