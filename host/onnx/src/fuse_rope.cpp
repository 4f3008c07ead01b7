// fuse_rope(), see fuse_patterns.hpp: rotate-half RoPE as exporters write
// it,
//
//   x1 = x[..., :Dh/2];  x2 = x[..., Dh/2:];  rotated = Concat(-x2, x1)
//   out = x * cos + rotated * sin
//   cos = Unsqueeze(Gather(cos_table [P, Dh], position_ids))   (sin alike)
//
// with x [B, S, H, Dh] and cos [B, S, 1, Dh] (the layout rope takes), or
// x [B, H, S, Dh] and cos [B, 1, S, Dh] (Hugging Face's, after the head
// transpose: rope then runs between two transposes). The tables must be
// those of one base: the base is estimated from the table, and every
// entry must match cos/sin((p)·base^(−2i/Dh)) to the table's precision,
// else nothing fuses.
#include <array>
#include <cmath>
#include <map>
#include <numbers>

#include "fuse_graph.hpp"
#include "fuse_patterns.hpp"
#include "kv_alias.hpp"

namespace rtscope::onnx_import {
namespace {

// How far a table entry may be from the exact value: its dtype's rounding
// (a few ulp near 1) plus the rounding of an angle computed in f32
// (p · inv_freq, as exporters do).
double tolerance(DType dtype, double angle) {
  const double ulp = dtype == DType::f16 ? std::ldexp(1.0, -10) : std::ldexp(1.0, -22);
  return ulp + std::abs(angle) * std::ldexp(1.0, -20);
}

bool table_matches(const std::vector<double>& cos, const std::vector<double>& sin, int64_t rows,
                   int64_t dh, DType dtype, double base) {
  const int64_t half = dh / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double freq = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(dh));
    for (int64_t p = 0; p < rows; ++p) {
      const double angle = static_cast<double>(p) * freq;
      const double tol = tolerance(dtype, angle);
      for (int64_t j : {i, i + half}) {
        const auto at = static_cast<std::size_t>(p * dh + j);
        if (!(std::abs(cos[at] - std::cos(angle)) <= tol) ||
            !(std::abs(sin[at] - std::sin(angle)) <= tol)) {
          return false;
        }
      }
    }
  }
  return true;
}

// `value` rounded to `digits` significant decimal digits.
double significant(double value, int digits) {
  // Powers of ten are exact up to 1e22, so 5e5 comes out as exactly 500000.
  const int exponent = static_cast<int>(std::floor(std::log10(value))) - (digits - 1);
  const double power = std::pow(10.0, std::abs(exponent));
  return exponent >= 0 ? std::round(value / power) * power : std::round(value * power) / power;
}

}  // namespace

std::optional<double> rope_table_base(const Tensor& cos_table, const Tensor& sin_table) {
  const Shape& shape = cos_table.shape();
  if (shape.size() != 2 || sin_table.shape() != shape || sin_table.dtype() != cos_table.dtype() ||
      shape[0] < 2 || shape[1] < 2 || shape[1] % 2 != 0) {
    return std::nullopt;
  }
  const int64_t rows = shape[0];
  const int64_t dh = shape[1];
  const int64_t half = dh / 2;
  const std::vector<double> cos = cos_table.to_doubles();
  const std::vector<double> sin = sin_table.to_doubles();
  double base = 10000.0;  // Dh = 2 has only frequency 1: every base gives that table
  double best = 0.0;
  for (int64_t i = 1; i < half; ++i) {
    // Each step advances the phase by freq < pi (base > 1), so the
    // unwrapped phase at the last row is (rows - 1) · freq.
    double phase = 0.0;
    double previous = 0.0;
    for (int64_t p = 1; p < rows; ++p) {
      const auto at = static_cast<std::size_t>(p * dh + i);
      const double angle = std::atan2(sin[at], cos[at]);
      double step = angle - previous;
      while (step <= -std::numbers::pi) step += 2 * std::numbers::pi;
      while (step > std::numbers::pi) step -= 2 * std::numbers::pi;
      phase += step;
      previous = angle;
    }
    const double freq = phase / static_cast<double>(rows - 1);
    if (!(freq > 0.0) || freq >= 1.0) continue;
    // log(base) = -log(freq) · Dh / 2i; its error shrinks with the phase
    // covered and with i.
    const double pin = phase * static_cast<double>(i);
    if (pin > best) {
      best = pin;
      base = std::pow(freq, -static_cast<double>(dh) / (2.0 * static_cast<double>(i)));
    }
  }
  if (!std::isfinite(base) || base <= 1.0) return std::nullopt;
  for (int digits = 1; digits <= 6; ++digits) {
    const double candidate = significant(base, digits);
    if (table_matches(cos, sin, rows, dh, cos_table.dtype(), candidate)) return candidate;
  }
  if (table_matches(cos, sin, rows, dh, cos_table.dtype(), base)) return base;
  return std::nullopt;
}

namespace {

enum class Layout { bshd, bhsd };

// x when `value` is Concat(-x[..., Dh/2:], x[..., :Dh/2]) on the last axis.
std::optional<std::string> rotated_half_of(const FuseGraph& g, const std::string& value) {
  const Node* cat = g.produced_by(value, "concat");
  if (cat == nullptr || cat->inputs.size() != 2) return std::nullopt;
  const ValueType t = g.type(value);
  const auto rank = static_cast<int64_t>(t.shape.size());
  const auto axis = int_attr(*cat, "axis", 0);
  if (rank == 0 || !axis || (*axis != -1 && *axis != rank - 1) || !t.shape.back().is_static()) {
    return std::nullopt;
  }
  const int64_t dh = t.shape.back().value;
  const Node* neg = g.produced_by(g.skip_identities(cat->inputs[0]), "neg");
  if (neg == nullptr || neg->inputs.size() != 1) return std::nullopt;
  // The slice that cut [start, end) of x's last axis: returns x.
  auto sliced = [&](const std::string& part, int64_t start,
                    int64_t end) -> std::optional<std::string> {
    const Node* s = g.produced_by(g.skip_identities(part), "slice");
    if (s == nullptr || s->inputs.size() != 1) return std::nullopt;
    const auto a = int_attr(*s, "axis", 0);
    const auto from = int_attr(*s, "start", 0);
    const auto to = int_attr(*s, "end", 0);
    const SymShape whole = g.type(s->inputs[0]).shape;
    if (!a || (*a != -1 && *a != rank - 1) || from != start || to != end ||
        static_cast<int64_t>(whole.size()) != rank || whole.back() != Dim::fixed(dh)) {
      return std::nullopt;
    }
    return s->inputs[0];
  };
  const auto x2 = sliced(neg->inputs[0], dh / 2, dh);
  const auto x1 = sliced(cat->inputs[1], 0, dh / 2);
  if (!x1 || !x2 || *x1 != *x2) return std::nullopt;
  return x1;
}

// The table's weight when `value` is Gather(table [P, Dh], position_ids)
// given a unit heads axis for `layout`; empty otherwise.
std::string gathered_table(const FuseGraph& g, const std::string& value, Layout layout,
                           const ValueType& x) {
  const Node* unsqueeze = g.produced_by(value, "reshape");
  if (unsqueeze == nullptr || unsqueeze->inputs.size() != 1) return {};
  const Node* gather = g.produced_by(unsqueeze->inputs[0], "gather");
  if (gather == nullptr || gather->inputs.size() != 2 || gather->inputs[1] != kPositionIds ||
      int_attr(*gather, "axis", 0) != 0) {
    return {};
  }
  const Tensor* table = g.weight(gather->inputs[0]);
  const SymShape& xs = x.shape;
  if (table == nullptr || table->dtype() != x.dtype || xs.size() != 4) return {};
  // [B, S, Dh] rows of the table, given the unit heads axis.
  const Dim& seq = layout == Layout::bshd ? xs[1] : xs[2];
  const SymShape rows{xs[0], seq, xs[3]};
  const SymShape want = layout == Layout::bshd ? SymShape{xs[0], seq, Dim::fixed(1), xs[3]}
                                               : SymShape{xs[0], Dim::fixed(1), seq, xs[3]};
  const bool unsqueezed = g.type(gather->outputs[0]).shape == rows && g.type(value).shape == want;
  return unsqueezed ? gather->inputs[0] : std::string();
}

struct RopeMatch {
  std::string x;
  Layout layout = Layout::bshd;
  double base = 0;
};

// The base of each (cos, sin) table pair checked so far: every layer
// gathers from the same tables, which are verified once.
using BaseCache = std::map<std::pair<std::string, std::string>, std::optional<double>>;

// out = x * cos + rotate_half(x) * sin, in any operand order.
std::optional<RopeMatch> match_rope(const FuseGraph& g, const Node& add, BaseCache& bases) {
  if (add.inputs.size() != 2) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const Node* plain = g.produced_by(add.inputs[static_cast<std::size_t>(side)], "mul");
    const Node* turned = g.produced_by(add.inputs[static_cast<std::size_t>(1 - side)], "mul");
    if (plain == nullptr || turned == nullptr || plain->inputs.size() != 2 ||
        turned->inputs.size() != 2) {
      continue;
    }
    for (int t = 0; t < 2; ++t) {
      const auto x = rotated_half_of(g, turned->inputs[static_cast<std::size_t>(t)]);
      if (!x) continue;
      const std::string& sin = turned->inputs[static_cast<std::size_t>(1 - t)];
      const int x_at = plain->inputs[0] == *x ? 0 : plain->inputs[1] == *x ? 1 : -1;
      if (x_at < 0) continue;
      const std::string& cos = plain->inputs[static_cast<std::size_t>(1 - x_at)];
      const ValueType xt = g.type(*x);
      for (Layout layout : {Layout::bshd, Layout::bhsd}) {
        const std::string cos_table = gathered_table(g, cos, layout, xt);
        const std::string sin_table = gathered_table(g, sin, layout, xt);
        if (cos_table.empty() || sin_table.empty()) continue;
        const auto key = std::pair{cos_table, sin_table};
        if (!bases.count(key)) {
          bases[key] = rope_table_base(*g.weight(cos_table), *g.weight(sin_table));
        }
        if (const auto base = bases.at(key)) return RopeMatch{*x, layout, *base};
      }
    }
  }
  return std::nullopt;
}

bool to_rope(FuseGraph& g, const std::string& out, BaseCache& bases) {
  const Node* add = g.produced_by(out, "add");
  if (add == nullptr) return false;
  const auto m = match_rope(g, *add, bases);
  if (!m) return false;
  Rewrite r(g);
  const AttrMap base{{"base", m->base}};
  if (m->layout == Layout::bshd) {
    r.add("rope", {m->x, kStepPosition}, base, out);
  } else {
    // rope takes [B, S, H, Dh]: undo the head transpose when x comes from
    // one, else transpose there and back.
    const std::vector<int64_t> swap{0, 2, 1, 3};
    const Node* t = g.produced_by(m->x, "transpose");
    std::string x = t != nullptr && ints_attr(*t, "perm") == swap
                        ? t->inputs[0]
                        : r.add("transpose", {m->x}, {{"perm", swap}});
    x = r.add("rope", {x, kStepPosition}, base);
    r.add("transpose", {x}, {{"perm", swap}}, out);
  }
  return g.commit(out, r);
}

}  // namespace

std::size_t fuse_rope(FuseGraph& g) {
  if (!g.ctx().types.count(kStepPosition)) return 0;
  std::vector<std::string> outs;
  for (const Node& node : g.graph().nodes) {
    if (node.op == "add" && node.outputs.size() == 1) outs.push_back(node.outputs[0]);
  }
  std::size_t count = 0;
  BaseCache bases;
  for (const std::string& out : outs) count += to_rope(g, out, bases);
  return count;
}

}  // namespace rtscope::onnx_import
