// Past/present KV pairs onto in-place state, see kv_alias.hpp.
#include "kv_alias.hpp"

#include <algorithm>
#include <set>

#include "rtscope/error.hpp"

namespace rtscope::onnx_import {
namespace {

int64_t int_attr(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return a.i();
  }
  return fallback;
}

// The past and fresh rows when `node` updates a graph input along axis 2
// of its [B, H, T, Dh] layout; empty past otherwise.
KvPair as_update(const onnx::NodeProto& node, const std::set<std::string>& inputs) {
  KvPair pair;
  const std::string& op = node.op_type();
  if (op == "Concat" && node.input_size() == 2 && inputs.count(node.input(0))) {
    const int64_t axis = int_attr(node, "axis", 0);
    if (axis == 2 || axis == -2) {
      pair.past = node.input(0);
      pair.fresh = node.input(1);
    }
  } else if ((op == "ScatterElements" && int_attr(node, "axis", 0) == 2) || op == "ScatterND") {
    if (node.input_size() == 3 && inputs.count(node.input(0))) {
      pair.past = node.input(0);
      pair.fresh = node.input(2);
    }
  }
  return pair;
}

std::string shown(const ValueType& t) { return t.str(); }

}  // namespace

std::map<std::size_t, KvPair> find_kv_pairs(const Context& ctx, onnx::GraphProto& graph,
                                            const OnnxImportOptions& options) {
  std::set<std::string> inputs;
  // Detection looks only at decoder-shaped models: a position_ids input
  // and pasts declared [batch, heads, length, head_dim].
  std::set<std::string> rank4;
  std::set<std::string> initialized;
  for (const auto& init : graph.initializer()) initialized.insert(init.name());
  for (const auto& in : graph.input()) {
    if (initialized.count(in.name())) continue;
    inputs.insert(in.name());
    if (in.type().has_tensor_type() && in.type().tensor_type().has_shape() &&
        in.type().tensor_type().shape().dim_size() == 4) {
      rank4.insert(in.name());
    }
  }
  const bool detect = options.detect_kv_alias && inputs.count(kPositionIds) != 0;
  std::set<std::string> outputs;
  for (const auto& out : graph.output()) outputs.insert(out.name());
  for (const auto& [present, past] : options.alias) {
    if (!outputs.count(present)) {
      throw InputError(ctx.file + ": alias '" + present + "' -> '" + past +
                       "': the model has no graph output '" + present + "'");
    }
    if (!inputs.count(past)) {
      throw InputError(ctx.file + ": alias '" + present + "' -> '" + past +
                       "': the model has no graph input '" + past + "'");
    }
  }
  std::map<std::size_t, KvPair> pairs;
  std::set<std::string> pasts;
  for (int i = 0; i < graph.node_size(); ++i) {
    onnx::NodeProto& node = *graph.mutable_node(i);
    if (node.output_size() != 1 || !outputs.count(node.output(0))) continue;
    const std::string& present = node.output(0);
    auto declared = options.alias.find(present);
    if (declared == options.alias.end() && !detect) continue;
    KvPair pair = as_update(node, declared == options.alias.end() ? rank4 : inputs);
    if (declared != options.alias.end() && pair.past != declared->second) {
      throw InputError(ctx.file + ": '" + present + "' cannot alias '" + declared->second +
                       "': node '" + node.name() + "' (" + node.op_type() +
                       ") is not a Concat of it on axis 2 or a ScatterElements/ScatterND into it");
    }
    if (pair.past.empty()) continue;
    if (!pasts.insert(pair.past).second) {
      throw InputError(ctx.file + ": '" + present + "' cannot alias '" + pair.past +
                       "': another output already updates it");
    }
    pair.present = present;
    pair.op_type = node.op_type();
    pair.node = static_cast<std::size_t>(i);
    // The rows go at the step's positions; a scatter's index arithmetic
    // goes dead.
    node.set_op_type("Concat");
    node.clear_input();
    node.add_input(pair.past);
    node.add_input(pair.fresh);
    node.clear_attribute();
    auto* axis = node.add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(2);
    pairs[pair.node] = pair;
  }
  for (const auto& declared : options.alias) {
    // Named members, not a structured binding: clang 14 cannot capture one.
    const std::string& present = declared.first;
    const std::string& past = declared.second;
    const bool found = std::any_of(pairs.begin(), pairs.end(),
                                   [&](const auto& p) { return p.second.present == present; });
    if (!found) {
      throw InputError(ctx.file + ": '" + present + "' cannot alias '" + past +
                       "': no single node produces it from '" + past + "'");
    }
  }
  return pairs;
}

void make_kv_states(Context& ctx, const std::map<std::size_t, KvPair>& pairs) {
  for (const auto& entry : pairs) {
    const KvPair& pair = entry.second;
    auto it = std::find_if(ctx.graph.inputs.begin(), ctx.graph.inputs.end(),
                           [&](const ValueInfo& in) { return in.name == pair.past; });
    if (it == ctx.graph.inputs.end()) {
      throw InputError(ctx.file + ": '" + pair.present + "' cannot alias '" + pair.past +
                       "': its value is fixed at import");
    }
    const ValueType& type = it->type;
    for (std::size_t d = 0; d < type.shape.size(); ++d) {
      if (!type.shape[d].is_static()) {
        std::string example;
        for (std::size_t j = 0; j < type.shape.size(); ++j) {
          example +=
              (j ? "x" : "") + (type.shape[j].is_static() ? std::to_string(type.shape[j].value)
                                                          : std::string(j == 2 ? "256" : "1"));
        }
        throw InputError(ctx.file + ": '" + pair.present + "' cannot alias '" + pair.past +
                         "': dim " + std::to_string(d) + " of " + pair.past + " (" +
                         type.shape[d].str() + ") is symbolic; give the cache size (--shapes " +
                         pair.past + ":" + example + ")");
      }
    }
    if (type.shape.size() != 4 || (type.dtype != DType::f32 && type.dtype != DType::f16)) {
      throw InputError(ctx.file + ": '" + pair.present + "' cannot alias '" + pair.past +
                       "': " + pair.past + " is " + shown(type) +
                       "; an in-place cache is f32 or f16 [batch, heads, length, head_dim]");
    }
    StateBuffer state;
    state.info = *it;
    state.update_from = pair.present;
    ctx.graph.inputs.erase(it);
    ctx.graph.states.push_back(state);
    auto& outs = ctx.graph.outputs;
    outs.erase(std::remove(outs.begin(), outs.end(), pair.present), outs.end());
    ctx.graph_outputs.erase(pair.present);
  }
  if (pairs.empty()) return;
  // Symbols only the pasts used (past_len) go with them.
  std::set<std::string> used;
  for (const ValueInfo& in : ctx.graph.inputs) {
    for (const Dim& d : in.type.shape) {
      if (!d.is_static()) used.insert(d.symbol);
    }
  }
  for (auto it = ctx.graph.symbols.begin(); it != ctx.graph.symbols.end();) {
    it = used.count(it->first) ? std::next(it) : ctx.graph.symbols.erase(it);
  }
}

void map_kv_update(Context& ctx, const KvPair& pair) {
  const ValueType cache = ctx.type(pair.past);
  const ValueType fresh = ctx.type(pair.fresh);
  const auto same = [&](std::size_t d) {
    return fresh.shape.size() == 4 && fresh.shape[d] == cache.shape[d];
  };
  if (fresh.dtype != cache.dtype || !same(0) || !same(1) || !same(3)) {
    throw InputError(ctx.file + ": node '" + ctx.node().name() + "' (" + pair.op_type + "): '" +
                     pair.present + "' cannot alias '" + pair.past + "': the new rows '" +
                     pair.fresh + "' are " + shown(fresh) + " but the cache is " + shown(cache) +
                     " (dtype, batch, heads and head_dim must match)");
  }
  const std::string pos = kStepPosition;
  if (!ctx.types.count(pos)) {
    const auto positions = ctx.types.find(kPositionIds);
    if (positions == ctx.types.end() || positions->second.dtype != DType::i64 ||
        positions->second.shape.size() != 2) {
      ctx.fail("KV pairs alias onto in-place caches, which need an input " +
               std::string(kPositionIds) +
               " i64 [batch, seq] to place each step's rows; this model has none (or another "
               "type)");
    }
    // position_ids[0, 0]: a dim of static size 1 needs no slice (a decode
    // step of batch 1 reshapes [1, 1] to [1]).
    std::string first = kPositionIds;
    for (int64_t axis : {0, 1}) {
      if (positions->second.shape[static_cast<std::size_t>(axis)] == Dim::fixed(1)) continue;
      first =
          ctx.emit("slice", {first}, {{"axis", axis}, {"start", int64_t{0}}, {"end", int64_t{1}}});
    }
    ctx.reshape(first, {1}, pos);
  }
  ctx.emit("kv_cache_update", {ctx.value(pair.past), ctx.value(pair.fresh), pos}, {}, pair.present);
}

void add_next_token(Context& ctx) {
  auto& outs = ctx.graph.outputs;
  if (std::find(outs.begin(), outs.end(), "logits") == outs.end() ||
      std::find(outs.begin(), outs.end(), "next_token") != outs.end() ||
      ctx.names.count("next_token")) {
    return;
  }
  ctx.emit("argmax", {"logits"}, {{"axis", int64_t{-1}}}, "next_token");
  outs.push_back("next_token");
}

}  // namespace rtscope::onnx_import
