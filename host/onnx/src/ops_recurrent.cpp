// Mappers of ONNX's recurrent ops, RNN, GRU and LSTM, unrolled over the
// sequence at import: the input projection of every step is one product
// over the whole sequence, then each step is a product with the recurrent
// weights and the gates' elementwise ops, in the order the direction runs
// (forward, reverse, or both). Shapes must be static, so the step count is
// known; with `sequence_lens`, a step past a batch entry's length keeps its
// state and writes zeros to Y, as ONNX defines.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

// Steps x directions above this are refused: each step is several nodes,
// and a graph of millions of nodes is not what the user meant. The whole
// model's recurrent nodes together unroll at most kMaxModelSteps.
constexpr int64_t kMaxUnrolledSteps = 4096;
constexpr int64_t kMaxModelSteps = 65536;

enum class Cell { kRnn, kGru, kLstm };

struct CellInfo {
  const char* op;
  int64_t gates;                         // blocks of hidden_size in W and R
  std::vector<std::string> activations;  // per direction, by default
};

CellInfo cell_info(Cell cell) {
  switch (cell) {
    case Cell::kRnn:
      return {"RNN", 1, {"Tanh"}};
    case Cell::kGru:
      return {"GRU", 3, {"Sigmoid", "Tanh"}};
    case Cell::kLstm:
      return {"LSTM", 4, {"Sigmoid", "Tanh", "Tanh"}};
  }
  return {"RNN", 1, {"Tanh"}};
}

// ONNX's recurrent activations: which take an alpha and a beta, and their
// defaults (those of the ONNX operators of the same name).
struct ActivationKind {
  const char* name;
  std::optional<double> alpha, beta;
};
constexpr ActivationKind kActivations[] = {
    {"Sigmoid", {}, {}},          {"Tanh", {}, {}},         {"Relu", {}, {}},
    {"Softsign", {}, {}},         {"Softplus", {}, {}},     {"LeakyRelu", 0.01, {}},
    {"ThresholdedRelu", 1.0, {}}, {"Elu", 1.0, {}},         {"HardSigmoid", 0.2, 0.5},
    {"Affine", 1.0, 0.0},         {"ScaledTanh", 1.0, 1.0},
};

// One activation with its alpha and beta, where it takes them.
struct Activation {
  std::string name;
  double alpha = 0.0, beta = 0.0;
};

// The node's activations, two directions' worth when bidirectional.
// activation_alpha / activation_beta are consumed in order by the
// activations that take them, as ONNX Runtime reads them; the rest keep
// their defaults.
std::vector<Activation> read_activations(Context& ctx, const CellInfo& info, int64_t directions) {
  std::vector<std::string> names;
  if (const onnx::AttributeProto* attr = ctx.attr("activations")) {
    for (const std::string& name : attr->strings()) names.push_back(name);
  } else {
    for (int64_t d = 0; d < directions; ++d) {
      names.insert(names.end(), info.activations.begin(), info.activations.end());
    }
  }
  const auto expected = static_cast<std::size_t>(directions) * info.activations.size();
  if (names.size() != expected) {
    ctx.fail("has " + std::to_string(names.size()) + " activations; " + info.op + " with " +
             std::to_string(directions) + " direction(s) takes " + std::to_string(expected));
  }
  const std::vector<double> alphas = ctx.attr_floats("activation_alpha");
  const std::vector<double> betas = ctx.attr_floats("activation_beta");
  std::size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> out;
  for (const std::string& name : names) {
    const ActivationKind* kind = nullptr;
    for (const ActivationKind& k : kActivations) {
      if (name == k.name) kind = &k;
    }
    if (kind == nullptr) {
      std::string supported;
      for (const ActivationKind& k : kActivations) {
        supported += supported.empty() ? k.name : std::string(", ") + k.name;
      }
      ctx.unsupported("activation '" + name + "' (supported: " + supported + ")");
    }
    Activation a{name, kind->alpha.value_or(0.0), kind->beta.value_or(0.0)};
    if (kind->alpha && next_alpha < alphas.size()) a.alpha = alphas[next_alpha++];
    if (kind->beta && next_beta < betas.size()) a.beta = betas[next_beta++];
    out.push_back(std::move(a));
  }
  return out;
}

// f(x) for one of the activations read_activations accepted.
std::string activate(Context& ctx, const Activation& a, const std::string& x) {
  if (a.name == "Affine") {  // alpha * x + beta
    const std::string scaled = ctx.emit("scale", {x}, {{"factor", a.alpha}});
    return ctx.emit("add", {scaled, ctx.add_scalar("affine_beta", a.beta, ctx.dtype(x))});
  }
  if (a.name == "ScaledTanh") {  // alpha * tanh(beta * x)
    const std::string inner = ctx.emit("scale", {x}, {{"factor", a.beta}});
    return ctx.emit("scale", {ctx.emit("tanh", {inner})}, {{"factor", a.alpha}});
  }
  if (a.name == "HardSigmoid") {
    return ctx.emit("hard_sigmoid", {x}, {{"alpha", a.alpha}, {"beta", a.beta}});
  }
  if (a.name == "LeakyRelu") return ctx.emit("leaky_relu", {x}, {{"alpha", a.alpha}});
  if (a.name == "ThresholdedRelu") return ctx.emit("thresholded_relu", {x}, {{"alpha", a.alpha}});
  if (a.name == "Elu") return ctx.emit("elu", {x}, {{"alpha", a.alpha}});
  // Sigmoid, Tanh, Relu, Softsign, Softplus: rtscope's op of the same name.
  std::string op = a.name;
  for (char& c : op) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ctx.emit(op, {x});
}

// Columns [begin, end) of a [rows, N] value.
std::string columns(Context& ctx, const std::string& x, int64_t begin, int64_t end) {
  return ctx.emit("slice", {x}, {{"axis", int64_t{1}}, {"start", begin}, {"end", end}});
}

// Direction d of a [directions, ...] value, without its leading dim.
std::string direction_of(Context& ctx, const std::string& x, int64_t d) {
  Shape shape = ctx.static_shape(x);
  const std::string one =
      ctx.emit("slice", {x}, {{"axis", int64_t{0}}, {"start", d}, {"end", d + 1}});
  shape.erase(shape.begin());
  return ctx.reshape(one, shape);
}

bool wants_output(Context& ctx, int index) {
  return index < ctx.node().output_size() && !ctx.node().output(index).empty();
}

// The shapes and inputs every cell shares.
struct Problem {
  Cell cell;
  DType dtype;
  int64_t steps, batch, input_size, hidden, directions;
  bool batch_first;                      // layout 1
  std::string x;                         // [steps, batch, input]
  std::string w, r;                      // [directions, gates * hidden, input / hidden]
  std::optional<std::string> bias;       // [directions, 2 * gates * hidden]
  std::optional<std::string> lens;       // [batch] i32
  std::optional<std::string> h0, c0;     // [directions, batch, hidden]
  std::optional<std::string> peepholes;  // [directions, 3 * hidden]
  std::optional<double> clip;
  bool linear_before_reset = false;  // GRU
  bool input_forget = false;         // LSTM
  std::vector<Activation> activations;
};

// An optional input as a value nodes can read, or nullopt when absent.
std::optional<std::string> optional_input(Context& ctx, std::size_t index) {
  if (!ctx.has_input(index)) return std::nullopt;
  return ctx.input(index);
}

// A [batch, directions, hidden] state (layout 1) as [directions, batch, hidden].
std::string state_in(Context& ctx, const Problem& p, const std::string& v) {
  return p.batch_first ? ctx.emit("transpose", {v}, {{"perm", ints({1, 0, 2})}}) : v;
}

Problem read_problem(Context& ctx, Cell cell) {
  const CellInfo info = cell_info(cell);
  Problem p;
  p.cell = cell;
  const std::string& x = ctx.input(0);
  require_float(ctx, x);
  p.dtype = ctx.dtype(x);
  const Shape xs = ctx.static_shape(x);
  if (xs.size() != 3) ctx.fail("X must have rank 3, not " + std::to_string(xs.size()));
  p.batch_first = ctx.attr_int("layout", 0) == 1;
  p.steps = p.batch_first ? xs[1] : xs[0];
  p.batch = p.batch_first ? xs[0] : xs[1];
  p.input_size = xs[2];
  p.x = p.batch_first ? ctx.emit("transpose", {x}, {{"perm", ints({1, 0, 2})}}) : x;
  const std::string direction = ctx.attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
    ctx.fail("direction '" + direction + "' is not forward, reverse or bidirectional");
  }
  p.directions = direction == "bidirectional" ? 2 : 1;
  p.w = ctx.input(1);
  p.r = ctx.input(2);
  const Shape ws = ctx.static_shape(p.w);
  const Shape rs = ctx.static_shape(p.r);
  p.hidden = ctx.attr_int("hidden_size", rs.size() == 3 ? rs[2] : 0);
  const int64_t rows = info.gates * p.hidden;
  if (ws != Shape{p.directions, rows, p.input_size} || rs != Shape{p.directions, rows, p.hidden}) {
    ctx.fail("W " + ctx.type(p.w).str() + " and R " + ctx.type(p.r).str() + " do not match " +
             std::to_string(p.directions) + " direction(s), " + std::to_string(info.gates) +
             " gate(s) of hidden_size " + std::to_string(p.hidden) + " and input size " +
             std::to_string(p.input_size));
  }
  if (p.hidden <= 0) ctx.fail("hidden_size must be positive");
  if (p.steps <= 0 || p.batch <= 0) {
    ctx.unsupported("X " + ctx.type(x).str() + " holds no step to run");
  }
  if (p.steps * p.directions > kMaxUnrolledSteps) {
    ctx.unsupported(std::to_string(p.steps) + " steps x " + std::to_string(p.directions) +
                    " direction(s) unrolled; the importer unrolls at most " +
                    std::to_string(kMaxUnrolledSteps));
  }
  ctx.unrolled_steps += p.steps * p.directions;
  if (ctx.unrolled_steps > kMaxModelSteps) {
    ctx.unsupported("the model's recurrent nodes unroll more than " +
                    std::to_string(kMaxModelSteps) + " steps in all");
  }
  p.bias = optional_input(ctx, 3);
  if (p.bias && ctx.static_shape(*p.bias) != Shape{p.directions, 2 * rows}) {
    ctx.fail("B " + ctx.type(*p.bias).str() + " must be [" + std::to_string(p.directions) + ", " +
             std::to_string(2 * rows) + "]");
  }
  p.lens = optional_input(ctx, 4);
  if (p.lens && ctx.constant(ctx.input(4)) != nullptr) {
    // Every entry the whole sequence: nothing to mask.
    const std::vector<int64_t> values = ctx.constant_ints(ctx.input(4), "sequence_lens");
    if (std::all_of(values.begin(), values.end(), [&p](int64_t v) { return v == p.steps; })) {
      p.lens.reset();
    }
  }
  if (p.lens && (ctx.dtype(*p.lens) != DType::i32 || ctx.static_shape(*p.lens) != Shape{p.batch})) {
    ctx.fail("sequence_lens must be i32 [" + std::to_string(p.batch) + "], not " +
             ctx.type(*p.lens).str());
  }
  const Shape state_shape = p.batch_first ? Shape{p.batch, p.directions, p.hidden}
                                          : Shape{p.directions, p.batch, p.hidden};
  auto state = [&](std::size_t index, const char* role) -> std::optional<std::string> {
    std::optional<std::string> v = optional_input(ctx, index);
    if (!v) return v;
    if (ctx.static_shape(*v) != state_shape) {
      ctx.fail(std::string(role) + " " + ctx.type(*v).str() + " must have the shape " +
               (p.batch_first ? "[batch, directions, hidden_size]"
                              : "[directions, batch, hidden_size]"));
    }
    return state_in(ctx, p, *v);
  };
  p.h0 = state(5, "initial_h");
  if (cell == Cell::kLstm) {
    p.c0 = state(6, "initial_c");
    p.peepholes = optional_input(ctx, 7);
    if (p.peepholes && ctx.static_shape(*p.peepholes) != Shape{p.directions, 3 * p.hidden}) {
      ctx.fail("P must be [" + std::to_string(p.directions) + ", " + std::to_string(3 * p.hidden) +
               "]");
    }
    p.input_forget = ctx.attr_int("input_forget", 0) != 0;
  }
  if (cell == Cell::kGru) p.linear_before_reset = ctx.attr_int("linear_before_reset", 0) != 0;
  if (ctx.has_attr("clip")) p.clip = ctx.attr_float("clip", 0.0);
  p.activations = read_activations(ctx, info, p.directions);
  return p;
}

// One direction's unrolled steps: its Y [steps, batch, hidden] and last
// hidden (and cell) state [batch, hidden].
struct DirectionResult {
  std::vector<std::string> y;  // per time index
  std::string h, c;
};

DirectionResult run_direction(Context& ctx, const Problem& p, int64_t d, bool reverse) {
  const int64_t gates = cell_info(p.cell).gates;
  const int64_t hid = p.hidden;
  const std::size_t per_direction = cell_info(p.cell).activations.size();
  auto act = [&](std::size_t i, const std::string& x) {
    return activate(ctx, p.activations[static_cast<std::size_t>(d) * per_direction + i], x);
  };
  auto clipped = [&](const std::string& x) {
    if (!p.clip) return x;
    return ctx.emit("clip", {x}, {{"min", -*p.clip}, {"max", *p.clip}});
  };
  const std::string w = direction_of(ctx, p.w, d);  // [gates * hidden, input]
  const std::string r = direction_of(ctx, p.r, d);  // [gates * hidden, hidden]
  // Every step's input projection in one product, with the biases that add
  // outside any gate product (all of them but GRU's Rbh under
  // linear_before_reset).
  std::string xw = ctx.emit("matmul", {ctx.reshape(p.x, {p.steps * p.batch, p.input_size}), w},
                            {{"transpose_b", int64_t{1}}});
  std::optional<std::string> reset_bias;  // GRU, linear_before_reset: Rbh
  if (p.bias) {
    const std::string b = direction_of(ctx, *p.bias, d);  // [2 * gates * hidden]
    const auto part = [&](int64_t begin, int64_t end) {
      return ctx.emit("slice", {b}, {{"axis", int64_t{0}}, {"start", begin}, {"end", end}});
    };
    std::string sum;
    if (p.cell == Cell::kGru && p.linear_before_reset) {
      // Rbh is added to the recurrent product before the reset gate scales it.
      sum = ctx.emit(
          "concat",
          {ctx.emit("add", {part(0, 2 * hid), part(3 * hid, 5 * hid)}), part(2 * hid, 3 * hid)},
          {{"axis", int64_t{0}}});
      reset_bias = ctx.reshape(part(5 * hid, 6 * hid), {1, hid});
    } else {
      sum = ctx.emit("add", {part(0, gates * hid), part(gates * hid, 2 * gates * hid)});
    }
    xw = ctx.emit("add", {xw, ctx.reshape(sum, {1, gates * hid})});
  }
  xw = ctx.reshape(xw, {p.steps, p.batch, gates * hid});
  std::optional<std::string> r_update, r_hidden;  // GRU: R's z and r rows, its h rows
  if (p.cell == Cell::kGru) {
    r_update =
        ctx.emit("slice", {r}, {{"axis", int64_t{0}}, {"start", int64_t{0}}, {"end", 2 * hid}});
    r_hidden = ctx.emit("slice", {r}, {{"axis", int64_t{0}}, {"start", 2 * hid}, {"end", 3 * hid}});
  }
  std::optional<std::string> pi, po, pf;
  if (p.peepholes) {
    const std::string pd = ctx.reshape(direction_of(ctx, *p.peepholes, d), {1, 3 * hid});
    pi = columns(ctx, pd, 0, hid);
    po = columns(ctx, pd, hid, 2 * hid);
    pf = columns(ctx, pd, 2 * hid, 3 * hid);
  }
  const Shape state_shape{p.batch, hid};
  std::string h =
      p.h0 ? direction_of(ctx, *p.h0, d) : ctx.add_scalar("h0", 0.0, p.dtype, state_shape);
  std::string c;
  if (p.cell == Cell::kLstm) {
    c = p.c0 ? direction_of(ctx, *p.c0, d) : ctx.add_scalar("c0", 0.0, p.dtype, state_shape);
  }
  std::optional<std::string> zeros;
  std::optional<std::string> lens;
  if (p.lens) {
    zeros = ctx.add_scalar("zeros", 0.0, p.dtype, state_shape);
    lens = ctx.reshape(*p.lens, {p.batch, 1});
  }
  auto mul = [&](const std::string& a, const std::string& b) { return ctx.emit("mul", {a, b}); };
  auto add = [&](const std::string& a, const std::string& b) { return ctx.emit("add", {a, b}); };
  DirectionResult out;
  out.y.resize(static_cast<std::size_t>(p.steps));
  for (int64_t s = 0; s < p.steps; ++s) {
    const int64_t t = reverse ? p.steps - 1 - s : s;
    const std::string xt =
        ctx.reshape(ctx.emit("slice", {xw}, {{"axis", int64_t{0}}, {"start", t}, {"end", t + 1}}),
                    {p.batch, gates * hid});
    std::string h_next, c_next;
    if (p.cell == Cell::kRnn) {
      const std::string hr = ctx.emit("matmul", {h, r}, {{"transpose_b", int64_t{1}}});
      h_next = act(0, clipped(add(xt, hr)));
    } else if (p.cell == Cell::kGru) {
      const std::string hzr = ctx.emit("matmul", {h, *r_update}, {{"transpose_b", int64_t{1}}});
      const std::string z =
          act(0, clipped(add(columns(ctx, xt, 0, hid), columns(ctx, hzr, 0, hid))));
      const std::string rg =
          act(0, clipped(add(columns(ctx, xt, hid, 2 * hid), columns(ctx, hzr, hid, 2 * hid))));
      std::string hh;
      if (p.linear_before_reset) {
        hh = ctx.emit("matmul", {h, *r_hidden}, {{"transpose_b", int64_t{1}}});
        if (reset_bias) hh = add(hh, *reset_bias);
        hh = mul(rg, hh);
      } else {
        hh = ctx.emit("matmul", {mul(rg, h), *r_hidden}, {{"transpose_b", int64_t{1}}});
      }
      const std::string candidate = act(1, clipped(add(columns(ctx, xt, 2 * hid, 3 * hid), hh)));
      // (1 - z) * candidate + z * h = candidate + z * (h - candidate)
      h_next = add(candidate, mul(z, ctx.emit("sub", {h, candidate})));
    } else {
      const std::string g = add(xt, ctx.emit("matmul", {h, r}, {{"transpose_b", int64_t{1}}}));
      std::string gi = columns(ctx, g, 0, hid);
      std::string go = columns(ctx, g, hid, 2 * hid);
      std::string gf = columns(ctx, g, 2 * hid, 3 * hid);
      const std::string gc = columns(ctx, g, 3 * hid, 4 * hid);
      if (pi) gi = add(gi, mul(*pi, c));
      if (pf) gf = add(gf, mul(*pf, c));
      const std::string i = act(0, clipped(gi));
      const std::string f = p.input_forget
                                ? ctx.emit("sub", {ctx.add_scalar("one", 1.0, p.dtype), i})
                                : act(0, clipped(gf));
      c_next = add(mul(f, c), mul(i, act(1, clipped(gc))));
      if (po) go = add(go, mul(*po, c_next));
      h_next = mul(act(0, clipped(go)), act(2, c_next));
    }
    if (lens) {
      // Steps past an entry's length keep its state; its Y rows are zeros.
      const std::string live =
          ctx.emit("less", {ctx.add_scalar("step", static_cast<double>(t), DType::i32), *lens});
      out.y[static_cast<std::size_t>(t)] = ctx.emit("where", {h_next, *zeros, live});
      h_next = ctx.emit("where", {h_next, h, live});
      if (p.cell == Cell::kLstm) c_next = ctx.emit("where", {c_next, c, live});
    } else {
      out.y[static_cast<std::size_t>(t)] = h_next;
    }
    h = h_next;
    if (p.cell == Cell::kLstm) c = c_next;
  }
  out.h = h;
  out.c = c;
  return out;
}

// Joins the directions' [batch, hidden] states into ONNX's state output:
// [directions, batch, hidden], or [batch, directions, hidden] in layout 1.
void emit_state(Context& ctx, const Problem& p, const std::vector<std::string>& states,
                const std::string& out) {
  std::vector<std::string> parts;
  for (const std::string& s : states) {
    parts.push_back(
        ctx.reshape(s, p.batch_first ? Shape{p.batch, 1, p.hidden} : Shape{1, p.batch, p.hidden}));
  }
  const int64_t axis = p.batch_first ? 1 : 0;
  if (parts.size() == 1) {
    ctx.identity(parts[0], out);
  } else {
    ctx.emit("concat", parts, {{"axis", axis}}, out);
  }
}

void map_recurrent(Context& ctx, Cell cell) {
  ctx.only_attrs({"activations", "activation_alpha", "activation_beta", "clip", "direction",
                  "hidden_size", "layout", "linear_before_reset", "input_forget"});
  if (cell != Cell::kGru && ctx.has_attr("linear_before_reset")) {
    ctx.fail("linear_before_reset is a GRU attribute");
  }
  if (cell != Cell::kLstm && ctx.has_attr("input_forget")) {
    ctx.fail("input_forget is an LSTM attribute");
  }
  const Problem p = read_problem(ctx, cell);
  const bool bidirectional = p.directions == 2;
  const bool reverse = ctx.attr_string("direction", "forward") == "reverse";
  std::vector<DirectionResult> results;
  for (int64_t d = 0; d < p.directions; ++d) {
    results.push_back(run_direction(ctx, p, d, bidirectional ? d == 1 : reverse));
  }
  if (wants_output(ctx, 0)) {
    // Y: [steps, directions, batch, hidden], or [batch, steps, directions,
    // hidden] in layout 1.
    std::vector<std::string> rows;
    for (int64_t t = 0; t < p.steps; ++t) {
      std::vector<std::string> per_direction;
      for (const DirectionResult& r : results) {
        per_direction.push_back(ctx.reshape(
            r.y[static_cast<std::size_t>(t)],
            p.batch_first ? Shape{p.batch, 1, 1, p.hidden} : Shape{1, 1, p.batch, p.hidden}));
      }
      rows.push_back(
          per_direction.size() == 1
              ? per_direction[0]
              : ctx.emit("concat", per_direction, {{"axis", int64_t{p.batch_first ? 2 : 1}}}));
    }
    const int64_t axis = p.batch_first ? 1 : 0;
    if (rows.size() == 1) {
      ctx.identity(rows[0], ctx.output(0));
    } else {
      ctx.emit("concat", rows, {{"axis", axis}}, ctx.output(0));
    }
  }
  if (wants_output(ctx, 1)) {
    std::vector<std::string> hs;
    for (const DirectionResult& r : results) hs.push_back(r.h);
    emit_state(ctx, p, hs, ctx.output(1));
  }
  if (cell == Cell::kLstm && wants_output(ctx, 2)) {
    std::vector<std::string> cs;
    for (const DirectionResult& r : results) cs.push_back(r.c);
    emit_state(ctx, p, cs, ctx.output(2));
  }
}

void map_rnn(Context& ctx) { map_recurrent(ctx, Cell::kRnn); }
void map_gru(Context& ctx) { map_recurrent(ctx, Cell::kGru); }
void map_lstm(Context& ctx) { map_recurrent(ctx, Cell::kLstm); }

}  // namespace

void add_recurrent_mappers(MapperTable& t) {
  t["RNN"] = {map_rnn, 7};
  t["GRU"] = {map_gru, 7};
  t["LSTM"] = {map_lstm, 7};
}

}  // namespace rtscope::onnx_import
