#include "rtscope/conformance/op_cases.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "rtscope/op_registry.hpp"

namespace rtscope::conformance {
namespace {

using Kind = InputSpec::Kind;

InputSpec f(std::string name, Shape shape) {
  return {std::move(name), Kind::floating, std::move(shape)};
}
InputSpec w(std::string name, Shape shape) {
  InputSpec spec{std::move(name), Kind::floating, std::move(shape)};
  spec.constant = true;
  return spec;
}
InputSpec pos(int64_t value) { return {"pos", Kind::position, {1}, value}; }
// One position per batch row (pos [B]).
InputSpec pos(std::vector<int64_t> values) {
  InputSpec spec{"pos", Kind::position, {static_cast<int64_t>(values.size())}};
  spec.values = std::move(values);
  return spec;
}
InputSpec ids(Shape shape, int64_t vocab, DType dtype) {
  return {"ids", Kind::ids, std::move(shape), vocab, dtype};
}

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"add_same", "add", {f("a", {3, 37}), f("b", {3, 37})}, {}},
      {"add_broadcast", "add", {f("a", {2, 3, 37}), f("b", {37})}, {}},
      {"sub_broadcast", "sub", {f("a", {4, 1, 5}), f("b", {3, 1})}, {}},
      {"mul_same", "mul", {f("a", {5, 129}), f("b", {5, 129})}, {}},
      {"mul_broadcast", "mul", {f("a", {2, 8, 16}), f("b", {2, 1, 16})}, {}},
      {"scale", "scale", {f("x", {7, 33})}, {{"factor", 0.37}}},
      {"relu", "relu", {f("x", {1000})}, {}},
      {"gelu", "gelu", {f("x", {9, 65})}, {}},
      {"silu", "silu", {f("x", {9, 65})}, {}},
      {"matmul_2d", "matmul", {f("a", {17, 33}), f("b", {33, 19})}, {}},
      {"matmul_batched_rhs2d", "matmul", {f("a", {2, 5, 33}), f("b", {33, 12})}, {}},
      {"matmul_batched", "matmul", {f("a", {2, 3, 5, 16}), f("b", {2, 3, 16, 7})}, {}},
      {"matmul_transpose_b",
       "matmul",
       {f("a", {2, 6, 16}), f("b", {2, 9, 16})},
       {{"transpose_b", int64_t{1}}}},
      {"linear", "linear", {f("x", {2, 5, 48}), f("w", {48, 40})}, {}},
      {"linear_bias", "linear", {f("x", {6, 48}), f("w", {48, 40}), f("bias", {40})}, {}},
      {"softmax_last", "softmax", {f("x", {4, 3, 50})}, {}},
      {"softmax_axis1", "softmax", {f("x", {4, 6, 5})}, {{"axis", int64_t{1}}}},
      {"layernorm", "layernorm", {f("x", {3, 4, 64}), f("gamma", {64}), f("beta", {64})}, {}},
      {"rmsnorm", "rmsnorm", {f("x", {3, 4, 64}), f("gamma", {64})}, {{"eps", 1e-5}}},
      {"rope_pos0", "rope", {f("x", {2, 3, 4, 16}), pos(0)}, {}},
      {"rope_pos9", "rope", {f("x", {1, 5, 2, 32}), pos(9)}, {{"base", 10000.0}}},
      {"attention_prefill",
       "attention",
       {f("q", {1, 2, 6, 16}), f("k_cache", {1, 2, 32, 16}), f("v_cache", {1, 2, 32, 16}), pos(0)},
       {}},
      {"attention_decode",
       "attention",
       {f("q", {2, 3, 1, 8}), f("k_cache", {2, 3, 20, 8}), f("v_cache", {2, 3, 20, 8}), pos(13)},
       {}},
      // Every batch row at its own position (pos [B]): odd batch sizes,
      // positions from 0 to the last that fits.
      {"rope_pos_per_row", "rope", {f("x", {3, 2, 2, 16}), pos({0, 7, 2})}, {}},
      {"attention_decode_per_row",
       "attention",
       {f("q", {3, 2, 1, 8}), f("k_cache", {3, 2, 20, 8}), f("v_cache", {3, 2, 20, 8}),
        pos({13, 0, 19})},
       {}},
      {"attention_prefill_per_row",
       "attention",
       {f("q", {2, 2, 4, 16}), f("k_cache", {2, 2, 40, 16}), f("v_cache", {2, 2, 40, 16}),
        pos({0, 33})},
       {}},
      {"kv_cache_update_per_row",
       "kv_cache_update",
       {f("cache", {3, 2, 16, 8}), f("new", {3, 2, 3, 8}), pos({5, 0, 13})},
       {}},
      {"kv_cache_update",
       "kv_cache_update",
       {f("cache", {1, 2, 16, 8}), f("new", {1, 2, 3, 8}), pos(5)},
       {}},
      // Grouped-query attention: Hkv cache heads, each read by H / Hkv query
      // heads (4 and 8 here), decode and prefill, one position or one per row.
      {"attention_grouped_decode",
       "attention",
       {f("q", {2, 8, 1, 16}), f("k_cache", {2, 2, 20, 16}), f("v_cache", {2, 2, 20, 16}), pos(13)},
       {}},
      {"attention_grouped_prefill_per_row",
       "attention",
       {f("q", {2, 8, 3, 8}), f("k_cache", {2, 1, 24, 8}), f("v_cache", {2, 1, 24, 8}),
        pos({0, 21})},
       {}},
      {"embedding_i64", "embedding", {f("table", {50, 24}), ids({2, 7}, 50, DType::i64)}, {}},
      {"embedding_i32", "embedding", {f("table", {50, 24}), ids({9}, 50, DType::i32)}, {}},
      {"reshape", "reshape", {f("x", {2, 3, 8})}, {{"shape", std::vector<int64_t>{0, -1, 4}}}},
      {"transpose",
       "transpose",
       {f("x", {2, 3, 4, 5})},
       {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}},
      {"transpose_2d", "transpose", {f("x", {7, 9})}, {{"perm", std::vector<int64_t>{1, 0}}}},
      {"concat",
       "concat",
       {f("a", {2, 3, 4}), f("b", {2, 5, 4}), f("c", {2, 1, 4})},
       {{"axis", int64_t{1}}}},
      {"slice",
       "slice",
       {f("x", {4, 10, 3})},
       {{"axis", int64_t{1}}, {"start", int64_t{2}}, {"end", int64_t{-3}}}},
      {"argmax", "argmax", {f("x", {3, 4, 33})}, {}},
      {"argmax_axis0", "argmax", {f("x", {6, 5})}, {{"axis", int64_t{0}}}},
      // A long contiguous axis in whole 16-byte vectors (plugins may read
      // it that way): past four vectors per invocation of a 256-wide
      // workgroup, and ties once the values are rounded to f16.
      {"argmax_long_rows", "argmax", {f("x", {3, 16400})}, {}},
  };
  return cases;
}

const std::vector<OpCase>& weight_op_cases() {
  static const std::vector<OpCase> cases = {
      // A weight operand of the same rank as the other: a plugin that
      // flattens constants' shapes fails here.
      {"add_weight", "add", {f("x", {2, 3}), w("w", {2, 3})}, {}},
  };
  return cases;
}

std::vector<std::string> covered_ops() {
  std::set<std::string> ops;
  for (const auto& c : op_cases()) ops.insert(c.op);
  return {ops.begin(), ops.end()};
}

Graph single_op_graph(const OpCase& c, DType dtype) {
  Graph g;
  g.name = c.label;
  g.loc = {"conformance:" + c.label, 0, 0};
  Node node{c.label, c.op, {}, {}, c.attrs, g.loc};
  for (const auto& in : c.inputs) {
    DType t = dtype;
    if (in.kind == Kind::ids) t = in.int_dtype;
    if (in.kind == Kind::position) t = DType::i64;
    SymShape shape;
    for (int64_t d : in.shape) shape.push_back(Dim::fixed(d));
    if (in.constant) {
      // Uniform in [-1, 1], seeded by the weight's name: never zeros.
      g.weights.push_back(
          {{in.name, {t, shape}, g.loc}, {WeightInit::Kind::seeded, /*seed=*/7, /*scale=*/1.0}});
    } else {
      g.inputs.push_back({in.name, {t, shape}, g.loc});
    }
    node.inputs.push_back(in.name);
  }
  for (int o = 0; o < c.outputs; ++o) {
    node.outputs.push_back("out" + std::to_string(o));
    g.outputs.push_back(node.outputs.back());
  }
  g.nodes.push_back(node);
  validate(g);
  return g;
}

std::map<std::string, Tensor> random_inputs(const OpCase& c, DType dtype, uint64_t seed) {
  std::map<std::string, Tensor> inputs;
  for (const auto& in : c.inputs) {
    ++seed;
    if (in.constant) continue;
    switch (in.kind) {
      case Kind::floating:
        inputs[in.name] = Tensor::random(dtype, in.shape, seed, 1.0);
        break;
      case Kind::ids:
        inputs[in.name] = Tensor::random(in.int_dtype, in.shape, seed, double(in.limit - 1));
        break;
      case Kind::position: {
        Tensor t = Tensor::empty(DType::i64, in.shape);
        if (in.values.empty()) {
          t.data_as<int64_t>()[0] = in.limit;
        } else {
          std::copy(in.values.begin(), in.values.end(), t.data_as<int64_t>());
        }
        inputs[in.name] = t;
        break;
      }
      case Kind::mask:
        inputs[in.name] = Tensor::random(DType::boolean, in.shape, seed, 1.0);
        break;
    }
  }
  return inputs;
}

}  // namespace rtscope::conformance
