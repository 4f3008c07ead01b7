// The op schema: the concrete entry (plugins) and the symbolic one (host)
// give the same shapes and the same error texts; attribute defaults and
// dtype rules.
#include "rtscope/op_schema.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "rtscope/error.hpp"

namespace rtscope::schema {
namespace {

using ::testing::HasSubstr;

struct Case {
  std::string op;
  std::vector<TensorType> inputs;
  AttrMap attrs;
};

ValueType symbolic(const TensorType& type) {
  ValueType result{type.dtype, {}};
  for (int64_t dim : type.dims) result.shape.push_back(Dim::fixed(dim));
  return result;
}

const OpSchema& op(const std::string& name) {
  const OpSchema* found = find_op(name);
  if (found == nullptr) throw std::logic_error("no schema for " + name);
  return *found;
}

// The message of the symbolic inference, or "" when it accepts the case.
std::string symbolic_error(const Case& c) {
  std::vector<ValueType> types;
  for (const TensorType& input : c.inputs) types.push_back(symbolic(input));
  try {
    op(c.op).infer(types, resolve_attrs(op(c.op), c.attrs));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

std::string concrete_error(const Case& c) {
  try {
    infer(op(c.op), c.inputs, resolve_attrs(op(c.op), c.attrs));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

const TensorType f32(std::vector<int64_t> dims) { return {DType::f32, std::move(dims)}; }
const TensorType f16(std::vector<int64_t> dims) { return {DType::f16, std::move(dims)}; }
const TensorType i64(std::vector<int64_t> dims) { return {DType::i64, std::move(dims)}; }
const TensorType i32(std::vector<int64_t> dims) { return {DType::i32, std::move(dims)}; }
const TensorType boolean(std::vector<int64_t> dims) { return {DType::boolean, std::move(dims)}; }

std::vector<Case> valid_cases() {
  return {
      {"add", {f32({2, 1, 4}), f32({3, 1})}, {}},
      {"mul", {f16({5}), f16({2, 5})}, {}},
      {"scale", {f32({3, 4})}, {{"factor", 0.5}}},
      {"gelu", {f16({7})}, {}},
      {"matmul", {f32({2, 3, 4}), f32({4, 5})}, {}},
      {"matmul", {f32({3, 4}), f32({6, 4})}, {{"transpose_b", int64_t{1}}}},
      {"linear", {f32({2, 8}), f32({8, 3}), f32({3})}, {}},
      {"softmax", {f32({2, 9})}, {{"axis", int64_t{0}}}},
      {"layernorm", {f32({2, 6}), f32({6}), f32({6})}, {}},
      {"rmsnorm", {f16({1, 6}), f16({6})}, {}},
      {"rope", {f32({1, 3, 2, 8}), i64({1})}, {}},
      {"attention", {f32({1, 2, 3, 8}), f32({1, 2, 16, 8}), f32({1, 2, 16, 8}), i64({1})}, {}},
      {"kv_cache_update", {f32({1, 2, 16, 8}), f32({1, 2, 1, 8}), i64({1})}, {}},
      {"reshape", {f32({2, 3, 4})}, {{"shape", std::vector<int64_t>{0, -1}}}},
      {"transpose", {i32({2, 3, 4})}, {{"perm", std::vector<int64_t>{2, 0, 1}}}},
      {"concat", {f32({2, 3}), f32({2, 5}), f32({2, 1})}, {{"axis", int64_t{-1}}}},
      {"slice",
       {f32({10, 4})},
       {{"axis", int64_t{0}}, {"start", int64_t{-3}}, {"end", int64_t{100}}}},
      {"embedding", {f32({50, 8}), i32({2, 3})}, {}},
      {"argmax", {f16({4, 9})}, {}},
      {"nonzero", {i32({2, 3})}, {}},
      {"nonzero", {f32({2, 3})}, {{"max_count", int64_t{4}}}},
      {"masked_select", {f32({2, 3}), boolean({2, 3})}, {}},
      // One position per batch row, and one shared by a batch of three.
      {"rope", {f32({3, 1, 2, 8}), i64({3})}, {}},
      {"rope", {f32({3, 1, 2, 8}), i64({1})}, {}},
      {"attention", {f32({3, 2, 1, 8}), f32({3, 2, 16, 8}), f32({3, 2, 16, 8}), i64({3})}, {}},
      {"kv_cache_update", {f32({3, 2, 16, 8}), f32({3, 2, 1, 8}), i64({3})}, {}},
      // Grouped-query: 8 query heads over 2 and 1 KV heads.
      {"attention", {f16({2, 8, 1, 8}), f16({2, 2, 16, 8}), f16({2, 2, 16, 8}), i64({2})}, {}},
      {"attention", {f32({1, 8, 3, 8}), f32({1, 1, 16, 8}), f32({1, 1, 16, 8}), i64({1})}, {}},
  };
}

TEST(OpSchemaTest, ConcreteAndSymbolicInferTheSameTypes) {
  for (const Case& c : valid_cases()) {
    SCOPED_TRACE(c.op);
    std::vector<ValueType> types;
    std::vector<DType> dtypes;
    for (const TensorType& input : c.inputs) {
      types.push_back(symbolic(input));
      dtypes.push_back(input.dtype);
    }
    const AttrMap attrs = resolve_attrs(op(c.op), c.attrs);
    const std::vector<ValueType> expected = op(c.op).infer(types, attrs);
    const std::vector<ConcreteOutput> got = infer(op(c.op), c.inputs, attrs);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t o = 0; o < got.size(); ++o) {
      EXPECT_EQ(got[o].dtype, expected[o].dtype);
      // The declared output dtype rule agrees with inference.
      EXPECT_EQ(output_dtype(op(c.op), dtypes), expected[o].dtype);
      ASSERT_EQ(got[o].dims.size(), expected[o].shape.size());
      for (std::size_t d = 0; d < got[o].dims.size(); ++d) {
        const Dim& dim = expected[o].shape[d];
        EXPECT_EQ(got[o].dims[d], dim.value) << expected[o].str();
        EXPECT_EQ(static_cast<int>(d) == got[o].data_dependent_dim, is_data_dependent(dim));
        if (!is_data_dependent(dim)) EXPECT_TRUE(dim.is_static()) << expected[o].str();
      }
    }
  }
}

TEST(OpSchemaTest, ConcreteShapesOfSomeOps) {
  auto dims = [](const Case& c) {
    return infer(op(c.op), c.inputs, resolve_attrs(op(c.op), c.attrs)).at(0).dims;
  };
  const std::vector<Case> cases = valid_cases();
  EXPECT_EQ(dims(cases[0]), (std::vector<int64_t>{2, 3, 4}));   // add broadcast
  EXPECT_EQ(dims(cases[4]), (std::vector<int64_t>{2, 3, 5}));   // batched matmul
  EXPECT_EQ(dims(cases[5]), (std::vector<int64_t>{3, 6}));      // transpose_b
  EXPECT_EQ(dims(cases[13]), (std::vector<int64_t>{2, 12}));    // reshape 0, -1
  EXPECT_EQ(dims(cases[15]), (std::vector<int64_t>{2, 9}));     // concat
  EXPECT_EQ(dims(cases[16]), (std::vector<int64_t>{3, 4}));     // slice -3..
  EXPECT_EQ(dims(cases[17]), (std::vector<int64_t>{2, 3, 8}));  // embedding
}

TEST(OpSchemaTest, DataDependentOutputsReportTheBoundAndAFlag) {
  const AttrMap defaults = resolve_attrs(op("nonzero"), {});
  const std::vector<TensorType> x = {f32({2, 3})};
  const ConcreteOutput rows = infer(op("nonzero"), x, defaults).at(0);
  EXPECT_EQ(rows.dtype, DType::i64);
  EXPECT_EQ(rows.dims, (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(rows.data_dependent_dim, 0);
  EXPECT_TRUE(rows.data_dependent());

  const ConcreteOutput fixed =
      infer(op("nonzero"), x, resolve_attrs(op("nonzero"), {{"max_count", int64_t{4}}})).at(0);
  EXPECT_EQ(fixed.dims, (std::vector<int64_t>{4, 2}));
  EXPECT_FALSE(fixed.data_dependent());
}

TEST(OpSchemaTest, ConcreteAndSymbolicFailWithTheSameText) {
  const std::vector<std::pair<Case, std::string>> cases = {
      {{"matmul", {f32({2, 3}), f32({4, 5})}, {}}, "inner dimensions differ: a f32[2,3] has K=3"},
      {{"linear", {f32({2, 3}), f32({4, 5})}, {}}, "inner dimensions differ: x f32[2,3] has K=3"},
      {{"add", {f32({2, 3}), f32({4})}, {}}, "cannot broadcast a f32[2,3] with b f32[4]"},
      {{"add", {f32({2}), i32({2})}, {}}, "b i32[2] must be f32 or f16"},
      {{"add", {f32({2}), f16({2})}, {}},
       "dtype mismatch: b f16[2] must have the dtype of a f32[2]"},
      {{"layernorm", {f32({2, 6}), f16({6}), f32({6})}, {}},
       "dtype mismatch: gamma f16[6] must have the dtype of x f32[2,6]"},
      {{"rmsnorm", {f32({2, 6}), f32({5})}, {}}, "differ: 5 vs 6"},
      {{"rope", {f32({1, 3, 2, 7}), i64({1})}, {}}, "must have an even head dim"},
      {{"rope", {f32({1, 3, 2, 8}), i32({1})}, {}}, "pos i32[1] must be i64[1]"},
      {{"rope", {f32({1, 3, 2, 8}), i64({2})}, {}}, "pos i64[2] must be i64[1]"},
      {{"rope", {f32({3, 1, 2, 8}), i64({2})}, {}},
       "pos i64[2] must be i64[1] (one position for every batch row) or i64[3] (one per batch "
       "row)"},
      {{"attention", {f32({3, 2, 1, 8}), f32({3, 2, 16, 8}), f32({3, 2, 16, 8}), i64({3, 1})}, {}},
       "pos i64[3,1] must be i64[1] (one position for every batch row) or i64[3]"},
      {{"kv_cache_update", {f32({2, 2, 16, 8}), f32({2, 2, 1, 8}), i64({4})}, {}},
       "pos i64[4] must be i64[1] (one position for every batch row) or i64[2]"},
      {{"attention", {f32({1, 2, 20, 8}), f32({1, 2, 16, 8}), f32({1, 2, 16, 8}), i64({1})}, {}},
       "has 20 positions but cache f32[1,2,16,8] holds only 16"},
      {{"attention", {f32({1, 8, 1, 8}), f32({1, 3, 16, 8}), f32({1, 3, 16, 8}), i64({1})}, {}},
       "query heads 8 of q f32[1,8,1,8] are not a multiple of KV heads 3 of k_cache "
       "f32[1,3,16,8]"},
      {{"attention", {f32({1, 2, 1, 8}), f32({1, 4, 16, 8}), f32({1, 4, 16, 8}), i64({1})}, {}},
       "query heads 2 of q f32[1,2,1,8] are not a multiple of KV heads 4"},
      {{"attention", {f32({1, 4, 1, 8}), f32({1, 2, 16, 8}), f32({1, 1, 16, 8}), i64({1})}, {}},
       "k_cache f32[1,2,16,8] and v_cache f32[1,1,16,8] must have one shape"},
      {{"kv_cache_update", {f32({1, 2, 16, 8}), f32({1, 4, 1, 8}), i64({1})}, {}},
       "head counts (dim 1) of cache f32[1,2,16,8] and new f32[1,4,1,8] differ"},
      {{"reshape", {f32({2, 3})}, {{"shape", std::vector<int64_t>{4, -1}}}},
       "cannot reshape x f32[2,3] to [4,-1]: 6 elements do not divide into dims of 4"},
      {{"transpose", {f32({2, 3})}, {{"perm", std::vector<int64_t>{0, 0}}}},
       "perm [0,0] must be a permutation of 0..1"},
      {{"concat", {f32({2, 3}), i32({2, 3})}, {{"axis", int64_t{0}}}},
       "dtype mismatch: input 1 i32[2,3] must have the dtype of input 0 f32[2,3]"},
      {{"softmax", {f32({2, 3})}, {{"axis", int64_t{2}}}}, "axis 2 is out of range for rank 2"},
      {{"embedding", {f32({5, 4}), f32({3})}, {}}, "ids f32[3] must be i32 or i64"},
      {{"masked_select", {f32({2, 3}), i32({2, 3})}, {}}, "mask i32[2,3] must be bool"},
      {{"argmax", {f32({0, 3})}, {{"axis", int64_t{0}}}}, "argmax over an empty axis"},
  };
  for (const auto& [c, expected] : cases) {
    SCOPED_TRACE(c.op);
    const std::string symbolic_text = symbolic_error(c);
    EXPECT_THAT(symbolic_text, HasSubstr(expected));
    EXPECT_EQ(concrete_error(c), symbolic_text);
  }
}

TEST(OpSchemaTest, AttributeDefaultsAndErrors) {
  EXPECT_EQ(attr_int(resolve_attrs(op("softmax"), {}), "axis"), -1);
  EXPECT_EQ(attr_int(resolve_attrs(op("matmul"), {}), "transpose_b"), 0);
  EXPECT_EQ(attr_real(resolve_attrs(op("layernorm"), {}), "eps"), 1e-5);
  EXPECT_EQ(attr_real(resolve_attrs(op("rope"), {}), "base"), 10000.0);
  EXPECT_EQ(attr_real(resolve_attrs(op("attention"), {}), "scale"), 0.0);
  EXPECT_EQ(attr_int(resolve_attrs(op("nonzero"), {}), "max_count"), 0);
  // An integer where a real is expected is taken as that real.
  EXPECT_EQ(attr_real(resolve_attrs(op("scale"), {{"factor", int64_t{2}}}), "factor"), 2.0);

  auto message = [](const std::string& name, const AttrMap& attrs) {
    try {
      resolve_attrs(op(name), attrs);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message("scale", {}), "op 'scale' requires attribute 'factor' (a real number)");
  EXPECT_EQ(message("relu", {{"alpha", 0.1}}),
            "unknown attribute 'alpha' for op 'relu'; op 'relu' takes no attributes");
  EXPECT_EQ(message("slice", {{"axis", int64_t{0}}, {"start", int64_t{0}}, {"end", 1.5}}),
            "attribute 'end' of op 'slice' must be an integer, got the real number 1.5");
}

TEST(OpSchemaTest, InputCountAndDtypeRules) {
  EXPECT_EQ(check_input_count(op("add"), 2), "");
  EXPECT_EQ(check_input_count(op("add"), 3), "takes 2 inputs, got 3");
  EXPECT_EQ(check_input_count(op("linear"), 1), "takes 2 to 3 inputs, got 1");
  EXPECT_EQ(check_input_count(op("concat"), 0), "takes at least 1 inputs, got 0");

  EXPECT_EQ(input_role(op("attention"), 3), "pos");
  EXPECT_EQ(input_role(op("concat"), 4), "input 4");
  EXPECT_TRUE(is_float_input(op("layernorm"), 2));   // beta: the dtype of the float x
  EXPECT_FALSE(is_float_input(op("rope"), 1));       // pos
  EXPECT_FALSE(is_float_input(op("concat"), 1));     // any dtype
  EXPECT_TRUE(is_float_input(op("embedding"), 0));   // table
  EXPECT_FALSE(is_float_input(op("embedding"), 1));  // ids

  const std::vector<DType> f32_in = {DType::f32};
  EXPECT_EQ(output_dtype(op("argmax"), f32_in), DType::i64);
  EXPECT_EQ(output_dtype(op("relu"), std::vector<DType>{DType::f16}), DType::f16);

  const std::vector<ValueType> bad = {ValueType{DType::i64, {Dim::named("seq")}}};
  try {
    check_input_dtypes(op("relu"), bad);
    FAIL() << "relu accepted i64";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "x i64[seq] must be f32 or f16");
  }
}

// Every op the schema knows has a role for each input and an infer rule.
TEST(OpSchemaTest, EveryOpIsComplete) {
  const std::vector<std::string> names = op_names();
  EXPECT_EQ(names.size(), 106u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const OpSchema& schema = op(name);
    EXPECT_FALSE(schema.inputs.empty());
    EXPECT_TRUE(static_cast<bool>(schema.infer));
    if (schema.max_inputs > 0) EXPECT_LE(schema.inputs.size(), std::size_t(schema.max_inputs));
  }
}

}  // namespace
}  // namespace rtscope::schema
