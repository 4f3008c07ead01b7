// fuse_rmsnorm(), see fuse_patterns.hpp: RMSNorm as exporters write it,
//
//   sq = x*x | Pow(x, 2);  ms = ReduceMean(sq, axes=[-1], keepdims=1)
//   r = Sqrt(ms + eps);    n = x / r | x * Reciprocal(r) | x * (1 / r)
//   out = n * w | w * n
//
// optionally with x widened to f32 first and n cast back to x's dtype
// before the gain (Hugging Face's LlamaRMSNorm under f16), becomes
// rmsnorm(x, w, eps). eps must be a one-element constant and w a constant
// [D] of x's dtype; anything else stays decomposed.
#include <cmath>

#include "fuse_graph.hpp"
#include "fuse_patterns.hpp"

namespace rtscope::onnx_import {
namespace {

struct Core {
  std::string x;  // the value normalized (possibly a widening cast)
  double eps = 0;
};

bool is_cast(const Node* node) {
  return node != nullptr && node->inputs.size() == 1 &&
         (node->op == "cast_f32" || node->op == "cast_f16");
}

// x*x or Pow(x, 2): returns x.
std::optional<std::string> squared(const FuseGraph& g, const std::string& value) {
  if (const Node* mul = g.produced_by(value, "mul");
      mul != nullptr && mul->inputs.size() == 2 && mul->inputs[0] == mul->inputs[1]) {
    return mul->inputs[0];
  }
  if (const Node* pow = g.produced_by(value, "pow"); pow != nullptr && pow->inputs.size() == 2) {
    if (auto e = g.scalar(pow->inputs[1]); e && *e == 2.0) return pow->inputs[0];
  }
  return std::nullopt;
}

// sqrt(mean(x², last axis) + eps): returns x and eps.
std::optional<Core> root_mean_square(const FuseGraph& g, const std::string& value) {
  const Node* sqrt = g.produced_by(value, "sqrt");
  if (sqrt == nullptr || sqrt->inputs.size() != 1) return std::nullopt;
  const Node* add = g.produced_by(sqrt->inputs[0], "add");
  if (add == nullptr || add->inputs.size() != 2) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const auto eps = g.scalar(add->inputs[static_cast<std::size_t>(1 - side)]);
    const Node* mean = g.produced_by(add->inputs[static_cast<std::size_t>(side)], "reduce_mean");
    if (!eps || !std::isfinite(*eps) || *eps < 0 || mean == nullptr || mean->inputs.size() != 1) {
      continue;
    }
    const auto x = squared(g, mean->inputs[0]);
    if (!x) continue;
    const auto rank = static_cast<int64_t>(g.type(*x).shape.size());
    const auto axes = ints_attr(*mean, "axes");
    const auto keepdims = int_attr(*mean, "keepdims", 1);
    if (rank == 0 || !axes || axes->size() != 1 || ((*axes)[0] != -1 && (*axes)[0] != rank - 1) ||
        keepdims != 1) {
      continue;
    }
    return Core{*x, *eps};
  }
  return std::nullopt;
}

// x / r, x * reciprocal(r), x * (1 / r) with r = root_mean_square(x).
std::optional<Core> normalized(const FuseGraph& g, const std::string& value) {
  const Node* node = g.producer(value);
  if (node == nullptr || node->inputs.size() != 2) return std::nullopt;
  auto same_x = [](const std::optional<Core>& core, const std::string& x) {
    return core && core->x == x ? core : std::nullopt;
  };
  if (node->op == "div") return same_x(root_mean_square(g, node->inputs[1]), node->inputs[0]);
  if (node->op != "mul") return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const std::string& x = node->inputs[static_cast<std::size_t>(side)];
    const std::string& inverse = node->inputs[static_cast<std::size_t>(1 - side)];
    if (const Node* rec = g.produced_by(inverse, "reciprocal"); rec && rec->inputs.size() == 1) {
      if (auto core = same_x(root_mean_square(g, rec->inputs[0]), x)) return core;
    }
    if (const Node* div = g.produced_by(inverse, "div"); div && div->inputs.size() == 2) {
      if (auto one = g.scalar(div->inputs[0]); one && *one == 1.0) {
        if (auto core = same_x(root_mean_square(g, div->inputs[1]), x)) return core;
      }
    }
  }
  return std::nullopt;
}

bool to_rmsnorm(FuseGraph& g, const std::string& out) {
  const Node* mul = g.produced_by(out, "mul");
  if (mul == nullptr || mul->inputs.size() != 2) return false;
  const ValueType out_type = g.type(out);
  for (int side = 0; side < 2; ++side) {
    const std::string& gain = mul->inputs[static_cast<std::size_t>(side)];
    std::string n = mul->inputs[static_cast<std::size_t>(1 - side)];
    const Tensor* w = g.weight(gain);
    if (w == nullptr || w->shape().size() != 1) continue;
    const Node* cast_back = g.producer(n);
    if (is_cast(cast_back)) n = cast_back->inputs[0];
    auto core = normalized(g, n);
    if (!core) continue;
    std::string x = core->x;
    if (is_cast(cast_back)) {
      // Widened to f32 for the statistics and back to x's dtype after.
      const Node* widen = g.produced_by(x, "cast_f32");
      if (widen == nullptr || widen->inputs.size() != 1) continue;
      x = widen->inputs[0];
    }
    const ValueType x_type = g.type(x);
    if (x_type != out_type || x_type.shape.empty() || w->dtype() != x_type.dtype ||
        x_type.shape.back() != Dim::fixed(w->shape()[0])) {
      continue;
    }
    Rewrite r(g);
    r.add("rmsnorm", {x, gain}, {{"eps", core->eps}}, out);
    return g.commit(out, r);
  }
  return false;
}

}  // namespace

std::size_t fuse_rmsnorm(FuseGraph& g) {
  std::size_t count = 0;
  std::vector<std::string> outs;
  for (const Node& node : g.graph().nodes) {
    if (node.op == "mul" && node.outputs.size() == 1) outs.push_back(node.outputs[0]);
  }
  for (const std::string& out : outs) count += to_rmsnorm(g, out);
  return count;
}

}  // namespace rtscope::onnx_import
