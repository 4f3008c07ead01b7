// fuse_attention(), see fuse_patterns.hpp: attention over in-place caches
// as exporters write it,
//
//   k, v   = kv_cache_update(past, rows, pos)        (kv_alias.hpp)
//            [grouped-query: Reshape → Concat×G (or Expand) → Reshape]
//   scores = MatMul(q, Transpose(k, [0, 1, 3, 2])) · scale   (or / c)
//   probs  = Softmax(scores + mask, axis=-1);   out = MatMul(probs, v)
//   mask   = Where(keys ≤ Unsqueeze(position_ids), 0, lowest)
//            (keys 0..T−1; the comparison written either way round)
//
// becomes attention(q, k, v, pos, scale): query s attends to keys
// j ≤ pos + s, which the mask says for positions pos, pos+1, ... (what the
// in-place caches already assume). A grouped-query cache that the export
// repeats after reading it is read by the grouped attention directly (query
// head h reads cached head h / G, as repeat_kv has it): the cache keeps its
// kv heads and the repeat is never materialised.
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "fuse_graph.hpp"
#include "fuse_patterns.hpp"
#include "kv_alias.hpp"

namespace rtscope::onnx_import {
namespace {

bool all_static(const SymShape& shape) {
  for (const Dim& d : shape) {
    if (!d.is_static()) return false;
  }
  return true;
}

// One cache as the attention reads it.
struct CacheRead {
  std::string cache;  // the kv_cache_update output
  int64_t group = 1;  // > 1: heads repeated after the cache (query heads per cached head)
};

bool is_update(const FuseGraph& g, const std::string& value) {
  const Node* u = g.produced_by(value, "kv_cache_update");
  return u != nullptr && u->inputs.size() == 3 && u->inputs[2] == kStepPosition &&
         g.state(u->inputs[0]) != nullptr && g.type(value).shape.size() == 4 &&
         all_static(g.type(value).shape);
}

std::optional<CacheRead> cache_read(const FuseGraph& g, const std::string& value) {
  if (is_update(g, value)) return CacheRead{value, 1};
  // reshape(concat(reshape(cache, [B, KV, 1, T, Dh]) × G, axis 2), [B, KV·G, T, Dh]),
  // or with expand in place of the concat (Hugging Face's repeat_kv).
  const Node* merge = g.produced_by(value, "reshape");
  if (merge == nullptr || merge->inputs.size() != 1) return std::nullopt;
  const std::string& repeated = merge->inputs[0];
  std::string one;
  if (const Node* cat = g.produced_by(repeated, "concat")) {
    const auto axis = int_attr(*cat, "axis", 0);
    if (cat->inputs.empty() || (axis != 2 && axis != -3)) return std::nullopt;
    one = cat->inputs[0];
    for (const std::string& in : cat->inputs) {
      if (in != one) return std::nullopt;
    }
  } else if (const Node* ex = g.produced_by(repeated, "expand"); ex && ex->inputs.size() == 1) {
    one = ex->inputs[0];
  } else {
    return std::nullopt;
  }
  const Node* split = g.produced_by(one, "reshape");
  if (split == nullptr || split->inputs.size() != 1 || !is_update(g, split->inputs[0])) {
    return std::nullopt;
  }
  const std::string& cache = split->inputs[0];
  const SymShape c = g.type(cache).shape;
  const SymShape rep = g.type(repeated).shape;
  if (rep.size() != 5 || !all_static(rep) || rep[2].value < 1) return std::nullopt;
  const int64_t group = rep[2].value;
  int64_t heads_value = 0;
  if (__builtin_mul_overflow(c[1].value, group, &heads_value)) return std::nullopt;
  const Dim heads = Dim::fixed(heads_value);
  if (g.type(one).shape != SymShape{c[0], c[1], Dim::fixed(1), c[2], c[3]} ||
      rep != SymShape{c[0], c[1], rep[2], c[2], c[3]} ||
      g.type(value).shape != SymShape{c[0], heads, c[2], c[3]}) {
    return std::nullopt;
  }
  return CacheRead{cache, group};
}

// A one-element constant that removes a key from the softmax: -inf or the
// lowest finite value of the dtype (what exporters use).
bool blocks(const std::optional<double>& v, DType dtype) {
  if (!v) return false;
  return *v == -std::numeric_limits<double>::infinity() ||
         *v <= (dtype == DType::f16 ? -65504.0 : -1e30);
}

// Whether `mask` is the causal mask by positions for scores [B, H, S, T].
bool causal_mask(const FuseGraph& g, const std::string& mask, const ValueType& scores) {
  const ValueType t = g.type(mask);
  const SymShape& s = scores.shape;
  if (t.dtype != scores.dtype || s.size() != 4 || t.shape.size() != 4 ||
      (t.shape[0] != s[0] && t.shape[0] != Dim::fixed(1)) || t.shape[1] != Dim::fixed(1) ||
      t.shape[2] != s[2] || t.shape[3] != s[3] || !s[3].is_static()) {
    return false;
  }
  const Node* where = g.produced_by(mask, "where");
  if (where == nullptr || where->inputs.size() != 3) return false;
  const Node* cmp = g.producer(where->inputs[2]);
  if (cmp == nullptr || cmp->inputs.size() != 2) return false;
  // keys: 0 .. T-1 along the last axis.
  auto keys = [&](const std::string& v) {
    const Tensor* w = g.weight(v);
    if (w == nullptr || (w->dtype() != DType::i64 && w->dtype() != DType::i32) ||
        w->shape().empty() || w->shape().back() != s[3].value || w->numel() != s[3].value) {
      return false;
    }
    const std::vector<double> values = w->to_doubles();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] != static_cast<double>(i)) return false;
    }
    return true;
  };
  // query positions: position_ids [B, S] as [B, 1, S, 1].
  auto queries = [&](const std::string& v) {
    const Node* r = g.produced_by(v, "reshape");
    if (r == nullptr || r->inputs.size() != 1 || r->inputs[0] != kPositionIds) return false;
    const SymShape& p = g.type(kPositionIds).shape;
    return p.size() == 2 && p[1] == s[2] &&
           g.type(v).shape == SymShape{p[0], Dim::fixed(1), p[1], Dim::fixed(1)};
  };
  const std::string& a = cmp->inputs[0];
  const std::string& b = cmp->inputs[1];
  bool allowed_when_true = false;
  if ((cmp->op == "less_equal" && keys(a) && queries(b)) ||
      (cmp->op == "greater_equal" && queries(a) && keys(b))) {
    allowed_when_true = true;
  } else if (!((cmp->op == "greater" && keys(a) && queries(b)) ||
               (cmp->op == "less" && queries(a) && keys(b)))) {
    return false;
  }
  // rtscope's where(x, y, cond) takes x where cond holds.
  const auto kept = g.scalar(where->inputs[allowed_when_true ? 0 : 1]);
  const auto dropped = g.scalar(where->inputs[allowed_when_true ? 1 : 0]);
  return kept && *kept == 0.0 && blocks(dropped, scores.dtype);
}

struct Scores {
  std::string q, k;
};

// q·kᵀ: matmul(q, transpose(k, [0, 1, 3, 2])) or matmul(q, k, transpose_b=1).
std::optional<Scores> scores_of(const FuseGraph& g, const std::string& value) {
  const Node* mm = g.produced_by(value, "matmul");
  if (mm == nullptr || mm->inputs.size() != 2) return std::nullopt;
  const auto transposed = int_attr(*mm, "transpose_b", 0);
  if (transposed == 1) return Scores{mm->inputs[0], mm->inputs[1]};
  const Node* t = g.produced_by(mm->inputs[1], "transpose");
  if (transposed != 0 || t == nullptr || t->inputs.size() != 1 ||
      ints_attr(*t, "perm") != std::vector<int64_t>{0, 1, 3, 2}) {
    return std::nullopt;
  }
  return Scores{mm->inputs[0], t->inputs[0]};
}

struct AttentionMatch {
  std::string out, q;
  CacheRead k, v;
  double scale = 0;
};

std::optional<AttentionMatch> match_attention(FuseGraph& g, const std::string& out) {
  const Node* mm = g.produced_by(out, "matmul");
  if (mm == nullptr || mm->inputs.size() != 2 || int_attr(*mm, "transpose_b", 0) != 0) {
    return std::nullopt;
  }
  const std::string& probs = mm->inputs[0];
  const Node* softmax = g.produced_by(probs, "softmax");
  const auto axis = softmax ? int_attr(*softmax, "axis", -1) : std::nullopt;
  if (softmax == nullptr || softmax->inputs.size() != 1 || (axis != -1 && axis != 3)) {
    return std::nullopt;
  }
  const Node* add = g.produced_by(softmax->inputs[0], "add");
  if (add == nullptr || add->inputs.size() != 2) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const std::string& mask = add->inputs[static_cast<std::size_t>(side)];
    const std::string& scaled = add->inputs[static_cast<std::size_t>(1 - side)];
    if (!causal_mask(g, mask, g.type(scaled))) continue;
    // scores · c, c · scores, scores / c, or the scores unscaled.
    std::string raw = scaled;
    double scale = 1.0;
    if (const Node* mul = g.produced_by(scaled, "mul"); mul && mul->inputs.size() == 2) {
      for (int m = 0; m < 2; ++m) {
        if (auto c = g.scalar(mul->inputs[static_cast<std::size_t>(m)])) {
          raw = mul->inputs[static_cast<std::size_t>(1 - m)];
          scale = *c;
          break;
        }
      }
    } else if (const Node* div = g.produced_by(scaled, "div"); div && div->inputs.size() == 2) {
      if (auto c = g.scalar(div->inputs[1]); c && *c != 0.0) {
        raw = div->inputs[0];
        scale = 1.0 / *c;
      }
    }
    if (!(scale > 0.0) || !std::isfinite(scale)) continue;
    const auto scores = scores_of(g, raw);
    if (!scores) continue;
    const auto k = cache_read(g, scores->k);
    const auto v = cache_read(g, mm->inputs[1]);
    if (!k || !v) continue;
    // The attention as it will read the caches (grouped ones with their kv
    // heads): a dry run through the op schema, and the step's result keeps
    // its type.
    Rewrite dry(g);
    const std::string fused =
        dry.add("attention", {scores->q, k->cache, v->cache, kStepPosition}, {{"scale", scale}});
    if (!dry.ok() || dry.type(fused) != g.type(out) || g.type(raw).shape != g.type(scaled).shape) {
      continue;
    }
    return AttentionMatch{out, scores->q, *k, *v, scale};
  }
  return std::nullopt;
}

}  // namespace

std::size_t fuse_attention(FuseGraph& g, std::size_t& grouped) {
  if (!g.ctx().types.count(kStepPosition)) return 0;
  std::vector<std::string> outs;
  for (const Node& node : g.graph().nodes) {
    if (node.op == "matmul" && node.outputs.size() == 1) outs.push_back(node.outputs[0]);
  }
  std::vector<AttentionMatch> matches;
  for (const std::string& out : outs) {
    if (auto m = match_attention(g, out)) matches.push_back(std::move(*m));
  }
  // The repeats go with the matmuls they fed (remove_dead), unless
  // something else still reads them.
  std::size_t count = 0;
  for (const AttentionMatch& m : matches) {
    Rewrite r(g);
    r.add("attention", {m.q, m.k.cache, m.v.cache, kStepPosition}, {{"scale", m.scale}}, m.out);
    if (g.commit(m.out, r)) {
      ++count;
      if (m.k.group > 1) ++grouped;
    }
  }
  return count;
}

}  // namespace rtscope::onnx_import
