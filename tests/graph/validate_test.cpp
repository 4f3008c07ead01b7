// validate(): located errors, symbolic type inference, topological order;
// the op registry's attribute handling; seeded and file weights.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"
#include "rtscope/op_registry.hpp"
#include "support/error_of.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const SourceLocation kHere{"g.yaml", 7, 3};

Dim d(int64_t v) { return Dim::fixed(v); }
Dim s(const char* symbol) { return Dim::named(symbol); }

ValueInfo value(std::string name, DType dtype, SymShape shape) {
  return ValueInfo{std::move(name), ValueType{dtype, std::move(shape)}, {"g.yaml", 2, 5}};
}

Node node(std::string name, std::string op, std::vector<std::string> inputs,
          std::vector<std::string> outputs, AttrMap attrs = {}, SourceLocation loc = kHere) {
  return Node{std::move(name),    std::move(op),    std::move(inputs),
              std::move(outputs), std::move(attrs), std::move(loc)};
}

Weight weight(std::string name, DType dtype, SymShape shape, uint64_t seed = 1) {
  Weight w;
  w.info = value(std::move(name), dtype, std::move(shape));
  w.init.seed = seed;
  return w;
}

// Graph with x f32[2,3] and one node under test producing `y`.
Graph one_node(Node n, std::vector<ValueInfo> extra_inputs = {}) {
  Graph g;
  g.name = "test";
  g.loc = {"g.yaml", 1, 1};
  g.inputs.push_back(value("x", DType::f32, {d(2), d(3)}));
  for (ValueInfo& info : extra_inputs) g.inputs.push_back(std::move(info));
  g.nodes.push_back(std::move(n));
  g.outputs = {"y"};
  return g;
}

// The InputError message of validate(g); fails the test if none is thrown.
std::string validate_error(Graph g) {
  try {
    validate(g);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "validate() accepted the graph";
  return "";
}

TEST(SourceLocationTest, Formats) {
  EXPECT_EQ(kHere.str(), "g.yaml:7:3");
  EXPECT_EQ((SourceLocation{"decoder", 0, 0}.str()), "decoder");
  EXPECT_EQ((ValueType{DType::f16, {s("batch"), s("seq"), d(256)}}.str()), "f16[batch,seq,256]");
}

// A graph validate() rejects, the start of its message (the location and
// the node) and phrases the rest must hold.
struct ValidateError {
  const char* name;
  Graph graph;
  std::string prefix;
  std::vector<std::string> phrases;

  friend void PrintTo(const ValidateError& e, std::ostream* out) { *out << e.name; }
};

std::vector<ValidateError> validate_errors() {
  return {
      {"UnknownOpListsValidOps",
       one_node(node("n", "matmull", {"x", "x"}, {"y"})),
       "g.yaml:7:3: ",
       {"unknown op 'matmull'", "valid ops: abs, acos, acosh, add, and, argmax, asin",
        "masked_select, matmul, max"}},
      {"UnknownAttributeListsValidOnes",
       one_node(node("sm", "softmax", {"x"}, {"y"}, {{"foo", int64_t{1}}})),
       "g.yaml:7:3: node 'sm' (softmax): ",
       {"unknown attribute 'foo' for op 'softmax'; valid attributes: axis"}},
      {"IllTypedAttribute",
       one_node(node("sm", "softmax", {"x"}, {"y"}, {{"axis", 1.5}})),
       "",
       {"attribute 'axis' of op 'softmax' must be an integer, got the real number 1.5"}},
      {"MissingAttribute",
       one_node(node("sc", "scale", {"x"}, {"y"})),
       "",
       {"op 'scale' requires attribute 'factor'"}},
      {"DanglingTensor",
       one_node(node("a", "add", {"x", "nope"}, {"y"})),
       "g.yaml:7:3: node 'a' (add): ",
       {"dangling tensor 'nope'"}},
      {"MatmulInnerDimMismatch",
       one_node(node("mm", "matmul", {"x", "b"}, {"y"}), {value("b", DType::f32, {d(4), d(5)})}),
       "g.yaml:7:3: node 'mm' (matmul): ",
       {"inner dimensions differ", "K=3", "K=4"}},
      {"DtypeMismatch",
       one_node(node("a", "add", {"x", "h"}, {"y"}), {value("h", DType::f16, {d(2), d(3)})}),
       "g.yaml:7:3: node 'a' (add): ",
       {"dtype mismatch", "f16[2,3]"}},
      {"WrongArity", one_node(node("r", "relu", {"x", "x"}, {"y"})), "", {"takes 1 inputs, got 2"}},
      {"IntegerInputs",
       one_node(node("r", "relu", {"i"}, {"y"}), {value("i", DType::i32, {d(2)})}),
       "",
       {"must be f32 or f16"}},
  };
}

class ValidateErrorTest : public ::testing::TestWithParam<ValidateError> {};

TEST_P(ValidateErrorTest, NamesTheNodeAndWhatFailed) {
  testing::expect_message(validate_error(GetParam().graph), GetParam().prefix, GetParam().phrases);
}

INSTANTIATE_TEST_SUITE_P(Graphs, ValidateErrorTest, ::testing::ValuesIn(validate_errors()),
                         testing::NameOfCase());

TEST(ValidateTest, CycleNamesANodeOnIt) {
  Graph g = one_node(node("first", "add", {"x", "c"}, {"a"}, {}, {"g.yaml", 4, 3}));
  g.nodes.push_back(node("second", "relu", {"a"}, {"c"}, {}, {"g.yaml", 9, 3}));
  g.nodes.push_back(node("out", "relu", {"x"}, {"y"}));
  const std::string error = validate_error(g);
  EXPECT_THAT(error, HasSubstr("is part of a cycle"));
  EXPECT_THAT(error, HasSubstr("'first'"));
  EXPECT_THAT(error, HasSubstr("'second'"));
  EXPECT_THAT(error, ::testing::AnyOf(StartsWith("g.yaml:4:3"), StartsWith("g.yaml:9:3")));
}

TEST(ValidateTest, DuplicateNames) {
  Graph outputs_clash = one_node(node("a", "relu", {"x"}, {"y"}));
  outputs_clash.nodes.push_back(node("b", "relu", {"x"}, {"y"}, {}, {"g.yaml", 12, 3}));
  const std::string error = validate_error(outputs_clash);
  EXPECT_THAT(error, StartsWith("g.yaml:12:3: "));
  EXPECT_THAT(error, HasSubstr("duplicate name 'y'"));
  EXPECT_THAT(error, HasSubstr("g.yaml:7:3"));  // points at the first definition

  Graph input_and_weight = one_node(node("a", "relu", {"x"}, {"y"}));
  input_and_weight.weights.push_back(weight("x", DType::f32, {d(3)}));
  EXPECT_THAT(validate_error(input_and_weight), HasSubstr("duplicate name 'x'"));

  Graph node_names = one_node(node("a", "relu", {"x"}, {"y"}));
  node_names.nodes.push_back(node("a", "relu", {"x"}, {"z"}));
  EXPECT_THAT(validate_error(node_names), HasSubstr("duplicate name 'a'"));
}

TEST(ValidateTest, WeightsAndStatesNeedStaticShapes) {
  Graph g = one_node(node("a", "relu", {"x"}, {"y"}));
  g.weights.push_back(weight("w", DType::f32, {s("n"), d(4)}));
  const std::string error = validate_error(g);
  EXPECT_THAT(error, StartsWith("g.yaml:2:5: "));
  EXPECT_THAT(error, HasSubstr("weight 'w' must have a static shape, got f32[n,4]"));
}

TEST(ValidateTest, StateUpdateMustExistAndMatch) {
  Graph g = one_node(node("a", "relu", {"x"}, {"y"}));
  g.states.push_back(StateBuffer{value("cache", DType::f32, {d(2), d(3)}), "missing"});
  EXPECT_THAT(validate_error(g), HasSubstr("state 'cache' is updated from 'missing'"));
  g.states[0].update_from = "y";
  g.states[0].info.type.shape = {d(3), d(2)};
  EXPECT_THAT(validate_error(g), HasSubstr("has type f32[3,2] but its update_from 'y' has type "
                                           "f32[2,3]"));
  g.states[0].info.type.shape = {d(2), d(3)};
  EXPECT_NO_THROW(validate(g));
}

TEST(ValidateTest, GraphOutputMustExist) {
  Graph g = one_node(node("a", "relu", {"x"}, {"y"}));
  g.outputs.push_back("ghost");
  const std::string error = validate_error(g);
  EXPECT_THAT(error, StartsWith("g.yaml:1:1: "));
  EXPECT_THAT(error, HasSubstr("graph output 'ghost'"));
}

TEST(ValidateTest, GraphWithoutLocationsNamesTheGraph) {
  Graph g;
  g.name = "built_in_cpp";
  g.inputs.push_back(ValueInfo{"x", {DType::f32, {d(2)}}, {}});
  g.nodes.push_back(node("n", "relu", {"nope"}, {"y"}, {}, {}));
  EXPECT_THAT(validate_error(g), StartsWith("graph 'built_in_cpp': node 'n' (relu): "));
}

TEST(ValidateTest, SymbolicDimsPropagateThroughLinear) {
  Graph g;
  g.inputs.push_back(value("x", DType::f32, {s("batch"), s("seq"), d(64)}));
  g.weights.push_back(weight("w", DType::f32, {d(64), d(96)}));
  g.nodes.push_back(node("proj", "linear", {"x", "w"}, {"y"}));
  g.outputs = {"y"};
  validate(g);
  EXPECT_EQ(g.type_of("y").str(), "f32[batch,seq,96]");
  EXPECT_EQ(g.type_of("w").str(), "f32[64,96]");
  try {
    g.type_of("nothing");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'nothing'"));
  }
}

TEST(ValidateTest, SymbolicBroadcasting) {
  Graph ok = one_node(node("a", "add", {"p", "q"}, {"y"}),
                      {value("p", DType::f32, {s("batch"), s("seq"), d(8)}),
                       value("q", DType::f32, {d(1), s("seq"), d(8)})});
  validate(ok);
  EXPECT_EQ(ok.type_of("y").str(), "f32[batch,seq,8]");

  EXPECT_THAT(validate_error(one_node(node("a", "add", {"p", "q"}, {"y"}),
                                      {value("p", DType::f32, {s("batch"), d(8)}),
                                       value("q", DType::f32, {s("seq"), d(8)})})),
              HasSubstr("cannot broadcast"));
}

TEST(ValidateTest, ReshapeOverSymbolicDims) {
  auto reshaped = [](std::vector<int64_t> spec) {
    Graph g = one_node(node("r", "reshape", {"h"}, {"y"}, {{"shape", spec}}),
                       {value("h", DType::f32, {s("batch"), s("seq"), d(256)})});
    validate(g);
    return g.type_of("y").str();
  };
  EXPECT_EQ(reshaped({0, 0, 4, 64}), "f32[batch,seq,4,64]");
  EXPECT_EQ(reshaped({0, 0, -1, 64}), "f32[batch,seq,4,64]");
  EXPECT_EQ(reshaped({0, -1, 256}), "f32[batch,seq,256]");
  EXPECT_EQ(reshaped({-1, 256}), "f32[y_d0,256]");  // batch*seq: a fresh symbol
  EXPECT_THAT(validate_error(one_node(node("r", "reshape", {"h"}, {"y"},
                                           {{"shape", std::vector<int64_t>{0, 0, 8, 64}}}),
                                      {value("h", DType::f32, {s("batch"), s("seq"), d(256)})})),
              HasSubstr("element counts differ"));
}

TEST(ValidateTest, LayoutOpTypes) {
  auto infer = [](const std::string& op, std::vector<ValueType> in, AttrMap attrs) {
    const OpSchema* schema = find_op(op);
    return schema->infer(in, resolve_attrs(*schema, attrs))[0].str();
  };
  const ValueType x{DType::f32, {s("b"), d(10), d(3)}};
  EXPECT_EQ(infer("transpose", {x}, {{"perm", std::vector<int64_t>{2, 0, 1}}}), "f32[3,b,10]");
  EXPECT_EQ(
      infer("slice", {x}, {{"axis", int64_t{1}}, {"start", int64_t{2}}, {"end", int64_t{-3}}}),
      "f32[b,5,3]");
  EXPECT_EQ(
      infer("slice", {x}, {{"axis", int64_t{1}}, {"start", int64_t{4}}, {"end", int64_t{99}}}),
      "f32[b,6,3]");
  EXPECT_EQ(
      infer("concat", {x, ValueType{DType::f32, {s("b"), d(2), d(3)}}}, {{"axis", int64_t{1}}}),
      "f32[b,12,3]");
  EXPECT_EQ(infer("argmax", {x}, {}), "i64[b,10]");
  EXPECT_EQ(
      infer("embedding",
            {ValueType{DType::f16, {d(100), d(8)}}, ValueType{DType::i64, {s("b"), s("t")}}}, {}),
      "f16[b,t,8]");
  EXPECT_EQ(infer("matmul",
                  {ValueType{DType::f32, {d(2), s("b"), d(5), d(16)}},
                   ValueType{DType::f32, {s("b"), d(7), d(16)}}},
                  {{"transpose_b", int64_t{1}}}),
            "f32[2,b,5,7]");
  EXPECT_THROW(infer("transpose", {x}, {{"perm", std::vector<int64_t>{0, 0, 1}}}),
               std::invalid_argument);
}

TEST(ValidateTest, SortsNodesTopologicallyAndStably) {
  Graph g;
  g.inputs.push_back(value("x", DType::f32, {d(4)}));
  g.nodes.push_back(node("last", "add", {"h", "k"}, {"y"}));
  g.nodes.push_back(node("first", "relu", {"x"}, {"h"}));
  g.nodes.push_back(node("independent", "gelu", {"x"}, {"z"}));
  g.nodes.push_back(node("second", "silu", {"h"}, {"k"}));
  g.outputs = {"y", "z"};
  validate(g);
  std::vector<std::string> order;
  for (const Node& n : g.nodes) order.push_back(n.name);
  EXPECT_THAT(order, ::testing::ElementsAre("first", "independent", "second", "last"));
  validate(g);  // validating again keeps the order
  EXPECT_EQ(g.nodes[3].name, "last");
}

TEST(ValidateTest, FillsDefaultAttributes) {
  Graph g = one_node(node("sm", "softmax", {"x"}, {"y"}));
  validate(g);
  EXPECT_EQ(attr_int(g.nodes[0].attrs, "axis"), -1);
}

// A one-layer attention block shaped like the decoder's, over symbolic seq.
TEST(ValidateTest, DecoderAttentionBlock) {
  Graph g;
  g.inputs.push_back(value("tokens", DType::i64, {d(1), s("seq")}));
  g.inputs.push_back(value("pos", DType::i64, {d(1)}));
  g.weights.push_back(weight("emb", DType::f16, {d(50), d(32)}));
  g.weights.push_back(weight("wq", DType::f16, {d(32), d(32)}));
  g.states.push_back(StateBuffer{value("k_cache", DType::f16, {d(1), d(4), d(16), d(8)}), "k_new"});
  g.nodes = {
      node("embed", "embedding", {"emb", "tokens"}, {"x"}),
      node("q", "linear", {"x", "wq"}, {"q2"}),
      node("q4", "reshape", {"q2"}, {"q3"}, {{"shape", std::vector<int64_t>{0, 0, 4, 8}}}),
      node("rope", "rope", {"q3", "pos"}, {"qr"}),
      node("qt", "transpose", {"qr"}, {"qh"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}),
      node("store", "kv_cache_update", {"k_cache", "qh", "pos"}, {"k_new"}),
      node("attn", "attention", {"qh", "k_new", "k_new", "pos"}, {"o"}),
  };
  g.outputs = {"o"};
  validate(g);
  EXPECT_EQ(g.type_of("qh").str(), "f16[1,4,seq,8]");
  EXPECT_EQ(g.type_of("k_new").str(), "f16[1,4,16,8]");
  EXPECT_EQ(g.type_of("o").str(), "f16[1,4,seq,8]");

  g.inputs[1].type.dtype = DType::i32;  // pos must be i64
  EXPECT_THAT(validate_error(g), HasSubstr("pos i32[1] must be i64[1]"));
}

TEST(OpRegistryTest, NamesAndLookup) {
  const std::vector<std::string> names = op_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  const std::vector<std::string> expected = {
      "add", "sub", "mul", "scale", "relu", "gelu", "silu", "matmul", "linear", "softmax",
      "layernorm", "rmsnorm", "rope", "attention", "kv_cache_update", "embedding", "reshape",
      "transpose", "concat", "slice", "argmax", "nonzero", "masked_select",
      // The ops of imported models (docs/onnx.md).
      "exp", "log", "sqrt", "neg", "abs", "tanh", "sigmoid", "erf", "reciprocal", "floor", "ceil",
      "round", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
      "atanh", "softplus", "softsign", "sign", "hard_swish", "mish", "leaky_relu", "elu", "celu",
      "selu", "hard_sigmoid", "thresholded_relu", "shrink", "clip", "div", "pow", "max", "min",
      "prelu", "equal", "less", "greater", "less_equal", "greater_equal", "and", "or", "xor", "not",
      "cast_f32", "cast_f16", "cast_i32", "cast_i64", "cast_bool", "where", "gather", "expand",
      "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_log_sum_exp",
      "log_softmax", "conv", "conv_transpose", "max_pool", "avg_pool", "pad", "gather_elements",
      "trilu", "nll_loss", "mod", "top_k", "scatter_elements", "scatter_nd", "gather_nd",
      "grid_sample", "non_max_suppression", "roi_align", "cumsum", "det"};
  EXPECT_THAT(names, ::testing::UnorderedElementsAreArray(expected));
  EXPECT_EQ(find_op("nope"), nullptr);
  ASSERT_NE(find_op("kv_cache_update"), nullptr);
  EXPECT_EQ(find_op("kv_cache_update")->aliases_input, 0);
  EXPECT_EQ(find_op("attention")->aliases_input, -1);
  EXPECT_EQ(find_op("concat")->max_inputs, -1);
}

TEST(OpRegistryTest, ResolveAttrs) {
  const OpSchema& scale = *find_op("scale");
  // An integer where a real is expected is accepted and converted.
  const AttrMap resolved = resolve_attrs(scale, {{"factor", int64_t{3}}});
  EXPECT_TRUE(std::holds_alternative<double>(resolved.at("factor")));
  EXPECT_EQ(attr_real(resolved, "factor"), 3.0);

  const AttrMap defaults = resolve_attrs(*find_op("rope"), {});
  EXPECT_EQ(attr_real(defaults, "base"), 10000.0);
  EXPECT_EQ(attr_real(resolve_attrs(*find_op("rmsnorm"), {}), "eps"), 1e-5);

  try {
    resolve_attrs(*find_op("relu"), {{"alpha", 0.1}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("op 'relu' takes no attributes"));
  }
  EXPECT_THROW(resolve_attrs(*find_op("reshape"), {{"shape", int64_t{4}}}), InputError);
  EXPECT_THROW(attr_int(defaults, "missing"), InputError);
}

TEST(MaterializeWeightTest, SeededIsDeterministicPerName) {
  Weight w = weight("layer0.wq", DType::f32, {d(16), d(8)}, 7);
  w.init.scale = 0.5;
  w.init.offset = 1.0;
  const std::vector<double> a = materialize_weight(w).to_doubles();
  EXPECT_EQ(materialize_weight(w).to_doubles(), a);
  for (double v : a) {
    EXPECT_GE(v, 0.5);
    EXPECT_LE(v, 1.5);
  }
  Weight renamed = w;
  renamed.info.name = "layer0.wk";
  EXPECT_NE(materialize_weight(renamed).to_doubles(), a);
  Weight reseeded = w;
  reseeded.init.seed = 8;
  EXPECT_NE(materialize_weight(reseeded).to_doubles(), a);

  Weight half = w;
  half.info.type.dtype = DType::f16;
  Tensor t = materialize_weight(half);
  EXPECT_EQ(t.dtype(), DType::f16);
  EXPECT_EQ(t.shape(), (Shape{16, 8}));
  const std::vector<double> rounded = t.to_doubles();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(rounded[i], a[i], 1e-3);
}

TEST(MaterializeWeightTest, FileInitReadsRawLittleEndian) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rtscope_weight_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const float values[] = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -8.5f};
  {
    std::ofstream(dir / "w.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(values), sizeof(values));
  }
  Weight w = weight("w", DType::f32, {d(2), d(3)});
  w.init.kind = WeightInit::Kind::file;
  w.init.path = "w.bin";
  w.info.loc = {(dir / "graph.yaml").string(), 3, 1};  // relative to the graph file
  EXPECT_THAT(materialize_weight(w).to_doubles(),
              ::testing::ElementsAre(1.5, -2.0, 3.25, 0.0, 7.0, -8.5));

  w.info.type.shape = {d(4), d(3)};
  try {
    materialize_weight(w);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("w.bin"));
    EXPECT_THAT(e.what(), HasSubstr("has 24 bytes, expected 48"));
  }
  w.init.path = "absent.bin";
  EXPECT_THROW(materialize_weight(w), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rtscope
