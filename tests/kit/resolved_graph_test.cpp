// kit::ResolvedGraph: values, roles, producers, aliases and the errors a
// malformed graph gets, with a typer standing in for a backend's op table.
#include "rtscope/kit/resolved_graph.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace rtscope::kit {
namespace {

using ::testing::HasSubstr;

ValueDesc value(const std::string& name, Dims dims, rts_dtype dtype = RTS_DTYPE_F32) {
  return {.name = name, .dtype = dtype, .dims = dims, .min_dims = dims, .max_dims = dims};
}

NodeDesc node(const std::string& name, const std::string& op, std::vector<std::string> inputs,
              std::vector<std::string> outputs) {
  NodeDesc desc;
  desc.name = name;
  desc.op = op;
  desc.inputs = std::move(inputs);
  desc.outputs = std::move(outputs);
  return desc;
}

struct TestNode : ResolvedNode {
  int bound = 0;
  size_t typed_inputs = 0;
};

// Knows "add" (output of the first input's dtype), "argmax" (i64) and
// "kv_cache_update"; anything else is unsupported.
struct TestTyper {
  void bind(TestNode& node) const {
    const std::string& op = node.desc->op;
    if (op != "add" && op != "argmax" && op != "kv_cache_update") {
      fail(RTS_ERROR_UNSUPPORTED, node.desc->label(), ": no kernel for '", op, "'");
    }
    node.bound = 1;
  }
  rts_dtype type(TestNode& node, std::span<const rts_dtype> dtypes) const {
    node.typed_inputs = dtypes.size();
    return node.desc->op == "argmax" ? RTS_DTYPE_I64 : dtypes[0];
  }
};

using Graph = ResolvedGraph<ResolvedValue, TestNode>;

GraphDesc two_nodes() {
  GraphDesc graph;
  graph.name = "g";
  graph.inputs = {value("x", {2, 3})};
  ConstantDesc bias;
  bias.value = value("b", {2, 3});
  const float bias_values[6] = {};
  bias.assign_copy(bias_values, sizeof(bias_values));
  graph.constants = {bias};
  graph.nodes = {node("sum", "add", {"x", "b"}, {"s"}), node("pick", "argmax", {"s"}, {"y"})};
  graph.outputs = {value("y", {2}, RTS_DTYPE_I64)};
  return graph;
}

std::string error_of(GraphDesc graph, rts_status expected = RTS_ERROR_INVALID_ARGUMENT) {
  try {
    Graph resolved(std::move(graph), TestTyper{});
  } catch (const Error& error) {
    EXPECT_EQ(error.status(), expected) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "the graph resolved";
  return {};
}

TEST(ResolvedGraph, GivesEveryValueItsRoleProducerAndDtype) {
  const Graph resolved(two_nodes(), TestTyper{});
  ASSERT_EQ(resolved.values().size(), 4u);
  const auto& x = resolved.values()[resolved.find_value("x")];
  const auto& b = resolved.values()[resolved.find_value("b")];
  const auto& s = resolved.values()[resolved.find_value("s")];
  const auto& y = resolved.values()[resolved.find_value("y")];
  EXPECT_EQ(x.role, ValueRole::kInput);
  EXPECT_EQ(x.producer, -1);
  EXPECT_EQ(b.role, ValueRole::kConstant);
  EXPECT_EQ(b.role_index, 0u);
  EXPECT_EQ(s.role, ValueRole::kIntermediate);
  EXPECT_EQ(s.producer, 0);
  EXPECT_EQ(s.declared, nullptr);  // undeclared: dtype from the op
  EXPECT_EQ(s.dtype, RTS_DTYPE_F32);
  EXPECT_EQ(y.producer, 1);
  EXPECT_EQ(y.dtype, RTS_DTYPE_I64);
  ASSERT_NE(y.declared, nullptr);
  EXPECT_EQ(resolved.find_value("nope"), -1);

  ASSERT_EQ(resolved.nodes().size(), 2u);
  EXPECT_EQ(resolved.nodes()[0].bound, 1);
  EXPECT_EQ(resolved.nodes()[0].typed_inputs, 2u);
  EXPECT_EQ(resolved.nodes()[0].inputs,
            (std::vector<uint32_t>{uint32_t(resolved.find_value("x")),
                                   uint32_t(resolved.find_value("b"))}));
  EXPECT_EQ(resolved.input_values(), std::vector<uint32_t>{uint32_t(resolved.find_value("x"))});
  EXPECT_EQ(resolved.output_values(), std::vector<uint32_t>{uint32_t(resolved.find_value("y"))});

  rts_engine_info info{};
  resolved.fill_info(info);
  ASSERT_EQ(info.n_inputs, 1u);
  EXPECT_STREQ(info.inputs[0].name, "x");
  EXPECT_EQ(info.inputs[0].rank, 2u);
  EXPECT_EQ(info.inputs[0].dims[1], 3);
  ASSERT_EQ(info.n_outputs, 1u);
  EXPECT_EQ(info.outputs[0].dtype, RTS_DTYPE_I64);
  EXPECT_EQ(info.n_aliases, 0u);
}

TEST(ResolvedGraph, AKvCacheUpdateOfAnInputAliasesThatInput) {
  GraphDesc graph;
  graph.name = "decode";
  graph.inputs = {value("new", {1, 4}), value("cache", {8, 4})};
  graph.nodes = {node("update", "kv_cache_update", {"cache", "new"}, {"cache_out"})};
  graph.outputs = {value("cache_out", {8, 4})};
  const Graph resolved(std::move(graph), TestTyper{});
  ASSERT_EQ(resolved.aliases().size(), 1u);
  EXPECT_EQ(resolved.aliases()[0].output, 0u);
  EXPECT_EQ(resolved.aliases()[0].input, 1u);
  EXPECT_EQ(resolved.aliases()[0].kind, RTS_ALIAS_KV_CACHE_UPDATE);
}

TEST(ResolvedGraph, NamesTheNodeAndValueOfEveryMalformedGraph) {
  GraphDesc graph = two_nodes();
  graph.nodes[0].inputs[1] = "missing";
  EXPECT_THAT(error_of(graph),
              HasSubstr("node 'sum' (add): input 'missing' is not declared in the graph"));

  graph = two_nodes();
  graph.values = {value("s", {2, 3})};  // declared, but produced after its reader
  std::swap(graph.nodes[0], graph.nodes[1]);
  EXPECT_THAT(error_of(graph), HasSubstr("input 's' is not produced by an earlier node"));

  graph = two_nodes();
  graph.values = {value("x", {2, 3}, RTS_DTYPE_I32)};
  EXPECT_THAT(error_of(graph), HasSubstr("graph 'g': value 'x' is declared twice"));

  graph = two_nodes();
  graph.nodes.push_back(node("again", "argmax", {"s"}, {"y"}));
  EXPECT_THAT(error_of(graph), HasSubstr("output 'y' is already produced by node 'pick'"));

  graph = two_nodes();
  graph.outputs[0].dtype = RTS_DTYPE_F32;
  EXPECT_THAT(error_of(graph), HasSubstr("output 'y' is declared f32 but the op produces i64"));

  graph = two_nodes();
  graph.nodes[1].outputs.push_back("z");
  EXPECT_THAT(error_of(graph), HasSubstr("node 'pick' (argmax): expects 1 output, got 2"));

  graph = two_nodes();
  graph.outputs.push_back(value("orphan", {2}));
  EXPECT_THAT(error_of(graph), HasSubstr("output 'orphan' is not produced by any node"));

  graph = two_nodes();
  graph.aliases = {{0, 3, RTS_ALIAS_KV_CACHE_UPDATE}};
  EXPECT_THAT(error_of(graph), HasSubstr("alias output 0 -> input 3 is out of range"));

  graph = two_nodes();
  graph.nodes[1].op = "conv";
  EXPECT_THAT(error_of(graph, RTS_ERROR_UNSUPPORTED),
              HasSubstr("node 'pick' (conv): no kernel for 'conv'"));
}

TEST(ResolvedGraph, ChecksConcreteShapesAgainstDeclarations) {
  ValueDesc declared = value("x", {-1, 3});
  declared.min_dims = {1, 3};
  declared.max_dims = {8, 3};
  check_input_dims(declared, {4, 3});
  EXPECT_THROW(check_input_dims(declared, {4}), Error);
  try {
    check_input_dims(declared, {9, 3});
    ADD_FAILURE() << "9 passed";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("has dim 0 = 9 outside its range [1, 8]"));
  }
  try {
    check_input_dims(declared, {4, 2});
    ADD_FAILURE() << "4x2 passed";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("(dim 1 must be 3)"));
  }

  ResolvedValue out;
  out.name = "y";
  out.dtype = RTS_DTYPE_F32;
  const ValueDesc out_declared = value("y", {2, 3});
  out.declared = &out_declared;
  const NodeDesc producer = node("mm", "matmul", {}, {"y"});
  check_inferred_dims(producer, out, {2, 3});
  try {
    check_inferred_dims(producer, out, {2, 4});
    ADD_FAILURE() << "2x4 passed";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("node 'mm' (matmul): output 'y' is f32[2,4] but the graph "
                                        "declares f32[2,3]"));
  }

  GraphDesc graph = two_nodes();
  ASSERT_TRUE(static_input_dims(graph).has_value());
  EXPECT_EQ(static_input_dims(graph)->at(0), (Dims{2, 3}));
  graph.inputs[0].dims[0] = -1;
  EXPECT_FALSE(static_input_dims(graph).has_value());
}

}  // namespace
}  // namespace rtscope::kit
