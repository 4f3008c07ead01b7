// The ops of imported models (unary math and activations, div/pow/max/min/
// prelu, comparisons and logic, casts, where, expand, gather, pad, trilu,
// gather_elements, nll_loss, reductions, log_softmax, conv, conv_transpose and
// pooling) on the Vulkan plugin alone, f32 and f16, against the float64
// reference on seeded inputs drawn from each op's domain. One test per op
// family, whose cases run as one graph, so that the plugin loads and each
// shader compiles once per family.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "element_access.hpp"
#include "rtscope/model.hpp"
#include "rtscope/op_math.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

// Where an input's seeded values lie.
enum class Domain {
  kSigned,    // [-3, 3]
  kUnit,      // [-0.9, 0.9]: asin, acos, atanh
  kPositive,  // [0.1, 3.1]: log, sqrt, pow's base
  kAboveOne,  // [1.05, 4.05]: acosh
  kNearOne,   // [0.5, 1.5]: reduce_prod
  kIntegers,  // integers in [-3, 3] (as floats): pow's integer exponents, casts
  kBool,      // 0 or 1, equally likely
  kIndices,   // integers in [-limit, limit): gather indices
  kTan,       // [-1.2, 1.2]
  kClasses,   // integers in [0, limit): class targets
};

struct In {
  std::string name;
  Shape shape;
  Domain domain = Domain::kSigned;
  // The dtype: the case's float dtype unless set.
  std::optional<DType> dtype{};
  int64_t limit = 0;  // kIndices
};

struct Case {
  std::string label;
  std::string op;
  std::vector<In> inputs;
  AttrMap attrs;
};

// Uniform in [0, 1), from a seeded 64-bit LCG (never the same for two inputs).
double uniform(uint64_t& state) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return static_cast<double>(state >> 11) / 9007199254740992.0;
}

double draw(Domain domain, int64_t limit, uint64_t& state) {
  const double u = uniform(state);
  switch (domain) {
    case Domain::kSigned:
      return u * 6.0 - 3.0;
    case Domain::kUnit:
      return u * 1.8 - 0.9;
    case Domain::kPositive:
      return 0.1 + u * 3.0;
    case Domain::kAboveOne:
      return 1.05 + u * 3.0;
    case Domain::kNearOne:
      return 0.5 + u;
    case Domain::kIntegers:
      return std::floor(u * 7.0) - 3.0;
    case Domain::kBool:
      return u < 0.5 ? 0.0 : 1.0;
    case Domain::kIndices:
      return std::floor(u * 2.0 * static_cast<double>(limit)) - static_cast<double>(limit);
    case Domain::kTan:
      return u * 2.4 - 1.2;
    case Domain::kClasses:
      return std::floor(u * static_cast<double>(limit));
  }
  return u;
}

// Integer and bool inputs come from the integer domains only, so storing
// (which rounds to nearest) keeps the drawn values.
Tensor make_input(const In& in, DType dtype, uint64_t seed) {
  Tensor t = Tensor::empty(dtype, in.shape);
  uint64_t state = seed;
  for (int64_t i = 0; i < t.numel(); ++i) {
    detail::store_element(dtype, t.data(), i, draw(in.domain, in.limit, state));
  }
  return t;
}

class VulkanModelOps : public ::testing::Test {
 protected:
  void SetUp() override { RTSCOPE_LOAD_VULKAN_OR_SKIP(registry_); }

  // Builds one graph holding every case's node (inputs and output named
  // after the case), runs it on vulkan alone on two seeds and compares each
  // output with the reference op: exactly for integer and bool outputs,
  // within the dtype's tolerance for float ones. One graph per family
  // keeps the pipelines it compiles few.
  void check(const std::vector<Case>& cases, DType dtype) {
    SCOPED_TRACE(std::string(to_string(dtype)));
    Graph g;
    g.name = "model_ops";
    g.loc = {"vulkan_model_ops", 0, 0};
    for (const Case& c : cases) {
      Node node{c.label, c.op, {}, {c.label + ".out"}, c.attrs, g.loc};
      for (const In& in : c.inputs) {
        SymShape shape;
        for (int64_t d : in.shape) shape.push_back(Dim::fixed(d));
        g.inputs.push_back({c.label + "." + in.name, {in.dtype.value_or(dtype), shape}, g.loc});
        node.inputs.push_back(g.inputs.back().name);
      }
      g.outputs.push_back(node.outputs[0]);
      g.nodes.push_back(node);
    }
    validate(g);
    auto model = Model::build(g, registry_, {.backends = {"vulkan"}});
    ASSERT_EQ(model->modules().size(), 1u);
    ASSERT_EQ(model->modules()[0]->plugin().id(), "vulkan");
    for (uint64_t seed : {11u, 12u}) {
      std::map<std::string, Tensor> inputs;
      uint64_t input_seed = seed * 7919;
      for (const Case& c : cases) {
        for (const In& in : c.inputs) {
          inputs[c.label + "." + in.name] = make_input(in, in.dtype.value_or(dtype), ++input_seed);
        }
      }
      const auto actual = model->run(inputs);
      for (const Case& c : cases) {
        SCOPED_TRACE(c.label);
        std::vector<reference::RefTensor> ref_inputs;
        for (const In& in : c.inputs) {
          ref_inputs.push_back(reference::RefTensor::from(inputs.at(c.label + "." + in.name)));
        }
        const auto expected =
            reference::run_op(c.op, ref_inputs, resolve_attrs(*find_op(c.op), c.attrs));
        const Tensor out = actual.at(c.label + ".out").to_host();
        ASSERT_EQ(out.shape(), expected[0].shape);
        EXPECT_EQ(out.dtype(), g.type_of(c.label + ".out").dtype);
        const bool exact = out.dtype() != DType::f32 && out.dtype() != DType::f16;
        // f32: the shaders compute in f32 with the device's exp/log/sin;
        // f16: storage rounding of inputs and outputs.
        const double tol = exact ? 1e-9 : (out.dtype() == DType::f16 ? 2e-2 : 1e-4);
        const double worst = reference::closeness(out, expected[0], tol, exact ? 0.0 : tol);
        EXPECT_LE(worst, 1.0) << "seed " << seed << ": worst error is " << worst
                              << "x the tolerance";
      }
    }
    expect_no_validation_errors(*model);
  }

  void check_all(const std::vector<Case>& cases, bool f16 = true) {
    check(cases, DType::f32);
    if (f16) check(cases, DType::f16);
  }

  PluginRegistry registry_;
};

Domain unary_domain(std::string_view op) {
  if (op == "log" || op == "sqrt" || op == "reciprocal") return Domain::kPositive;
  if (op == "acosh") return Domain::kAboveOne;
  if (op == "asin" || op == "acos" || op == "atanh") return Domain::kUnit;
  if (op == "tan") return Domain::kTan;
  return Domain::kSigned;
}

AttrMap unary_attrs(std::string_view op) {
  if (op == "leaky_relu") return {{"alpha", 0.1}};
  if (op == "elu") return {{"alpha", 0.7}};
  if (op == "celu") return {{"alpha", 1.3}};
  if (op == "thresholded_relu") return {{"alpha", 0.4}};
  if (op == "shrink") return {{"bias", 0.2}, {"lambd", 0.6}};
  if (op == "clip") return {{"min", -0.5}, {"max", 0.7}};
  return {};
}

TEST_F(VulkanModelOps, UnaryMathAndActivations) {
  std::vector<Case> cases;
  for (std::string_view op : math::kUnaryNames) {
    cases.push_back(
        {std::string(op), std::string(op), {{"x", {3, 67}, unary_domain(op)}}, unary_attrs(op)});
  }
  check_all(cases);
}

TEST_F(VulkanModelOps, BroadcastArithmetic) {
  check_all({
      {"div", "div", {{"a", {2, 3, 5}}, {"b", {3, 1}, Domain::kPositive}}, {}},
      {"pow", "pow", {{"a", {4, 9}, Domain::kPositive}, {"b", {9}}}, {}},
      {"pow_integer_exponents", "pow", {{"a", {4, 9}}, {"b", {4, 9}, Domain::kIntegers}}, {}},
      {"max", "max", {{"a", {2, 3, 5}}, {"b", {5}}}, {}},
      {"min", "min", {{"a", {3, 1}}, {"b", {2, 3, 5}}}, {}},
      {"prelu", "prelu", {{"x", {2, 4, 3}}, {"slope", {4, 1}}}, {}},
  });
}

TEST_F(VulkanModelOps, CastsWhereExpandGather) {
  const DType i64 = DType::i64;
  const DType i32 = DType::i32;
  const DType boolean = DType::boolean;
  check_all({
      {"cast_i32_from_float", "cast_i32", {{"x", {5, 7}}}, {}},
      {"cast_i64_from_float", "cast_i64", {{"x", {5, 7}}}, {}},
      {"cast_bool_from_float", "cast_bool", {{"x", {5, 7}, Domain::kIntegers}}, {}},
      {"cast_f32", "cast_f32", {{"x", {5, 7}}}, {}},
      {"cast_f16", "cast_f16", {{"x", {5, 7}}}, {}},
      {"where",
       "where",
       {{"x", {2, 3, 4}}, {"y", {4}}, {"cond", {3, 1}, Domain::kBool, boolean}},
       {}},
      {"expand", "expand", {{"x", {3, 1}}}, {{"shape", std::vector<int64_t>{2, 3, 4}}}},
      {"gather_axis1",
       "gather",
       {{"data", {5, 4, 3}}, {"indices", {2, 2}, Domain::kIndices, i64, 4}},
       {{"axis", int64_t{1}}}},
      {"gather_axis0_i32",
       "gather",
       {{"data", {6, 5}}, {"indices", {4}, Domain::kIndices, i32, 6}},
       {}},
  });
  // Integer and bool data: every conversion, and data movement of 8-byte
  // and 1-byte elements.
  check_all(
      {
          {"cast_f32_from_i64", "cast_f32", {{"x", {4, 5}, Domain::kIntegers, i64}}, {}},
          {"cast_f16_from_i32", "cast_f16", {{"x", {4, 5}, Domain::kIntegers, i32}}, {}},
          {"cast_i32_from_i64", "cast_i32", {{"x", {4, 5}, Domain::kIntegers, i64}}, {}},
          {"cast_i64_from_i32", "cast_i64", {{"x", {4, 5}, Domain::kIntegers, i32}}, {}},
          {"cast_f32_from_bool", "cast_f32", {{"x", {4, 5}, Domain::kBool, boolean}}, {}},
          {"cast_bool_from_i64", "cast_bool", {{"x", {4, 5}, Domain::kIntegers, i64}}, {}},
          {"where_i64",
           "where",
           {{"x", {2, 3}, Domain::kIntegers, i64},
            {"y", {3}, Domain::kIntegers, i64},
            {"cond", {2, 1}, Domain::kBool, boolean}},
           {}},
          {"expand_i64",
           "expand",
           {{"x", {1, 3}, Domain::kIntegers, i64}},
           {{"shape", std::vector<int64_t>{4, 1, 3}}}},
          {"gather_bool",
           "gather",
           {{"data", {3, 5}, Domain::kBool, boolean}, {"indices", {2}, Domain::kIndices, i64, 3}},
           {}},
      },
      /*f16=*/false);
}

TEST_F(VulkanModelOps, IndexDrivenOps) {
  const auto ints = [](std::vector<int64_t> a) { return AttrValue{std::move(a)}; };
  const DType i64 = DType::i64;
  const std::vector<Case> cases = {
      {"pad_constant",
       "pad",
       {{"x", {2, 3, 4}}},
       {{"pads", ints({0, 1, 2, 1, -1, 0})}, {"value", 1.5}}},
      {"pad_reflect", "pad", {{"x", {3, 5}}}, {{"pads", ints({2, 1, 1, 3})}, {"mode", "reflect"}}},
      {"pad_edge", "pad", {{"x", {3, 5}}}, {{"pads", ints({1, 0, 2, 4})}, {"mode", "edge"}}},
      {"trilu_upper", "trilu", {{"x", {2, 4, 5}}}, {{"k", int64_t{1}}}},
      {"trilu_lower", "trilu", {{"x", {5, 3}}}, {{"upper", int64_t{0}}, {"k", int64_t{-1}}}},
      {"gather_elements",
       "gather_elements",
       {{"data", {3, 4}}, {"indices", {3, 2}, Domain::kIndices, i64, 4}},
       {{"axis", int64_t{1}}}},
  };
  check_all(cases);
  const auto losses = [](DType targets) {
    return std::vector<Case>{
        {"nll_loss_mean_weighted",
         "nll_loss",
         {{"x", {3, 5, 2}}, {"target", {3, 2}, Domain::kClasses, targets, 5}, {"weight", {5}}},
         {{"ignore_index", int64_t{1}}}},
        {"nll_loss_sum",
         "nll_loss",
         {{"x", {4, 6}}, {"target", {4}, Domain::kClasses, targets, 6}},
         {{"reduction", "sum"}}},
        {"nll_loss_none",
         "nll_loss",
         {{"x", {2, 3, 4}}, {"target", {2, 4}, Domain::kClasses, targets, 3}},
         {{"reduction", "none"}}},
    };
  };
  check_all(losses(i64));
  check_all(losses(DType::i32), /*f16=*/false);
  check_all(
      {
          {"pad_constant_i64",
           "pad",
           {{"x", {2, 3}, Domain::kIntegers, i64}},
           {{"pads", ints({1, 0, 0, 2})}, {"value", -7.0}}},
          {"trilu_i64", "trilu", {{"x", {4, 4}, Domain::kIntegers, i64}}, {}},
          {"gather_elements_i64_axis0",
           "gather_elements",
           {{"data", {3, 4}, Domain::kIntegers, i64},
            {"indices", {2, 4}, Domain::kIndices, DType::i32, 3}},
           {}},
      },
      /*f16=*/false);
}

TEST_F(VulkanModelOps, ComparisonsAndLogic) {
  const DType i64 = DType::i64;
  const DType i32 = DType::i32;
  const DType boolean = DType::boolean;
  // Float operands drawn from the integers, so that ties occur.
  const Domain ints = Domain::kIntegers;
  // a bool[4, 5] and b bool[b_shape] (broadcast).
  const auto bools = [](std::string label, std::string op, Shape b_shape) {
    return Case{std::move(label),
                std::move(op),
                {{"a", {4, 5}, Domain::kBool, DType::boolean},
                 {"b", std::move(b_shape), Domain::kBool, DType::boolean}},
                {}};
  };
  check_all({
      {"equal", "equal", {{"a", {3, 8}, ints}, {"b", {8}, ints}}, {}},
      {"less", "less", {{"a", {3, 8}, ints}, {"b", {3, 1}, ints}}, {}},
      {"greater", "greater", {{"a", {2, 3, 4}, ints}, {"b", {3, 4}, ints}}, {}},
      {"less_equal", "less_equal", {{"a", {3, 8}, ints}, {"b", {3, 8}, ints}}, {}},
      {"greater_equal", "greater_equal", {{"a", {3, 8}, ints}, {"b", {1, 8}, ints}}, {}},
  });
  check_all(
      {
          {"equal_i64", "equal", {{"a", {3, 8}, ints, i64}, {"b", {8}, ints, i64}}, {}},
          {"less_i64", "less", {{"a", {3, 8}, ints, i64}, {"b", {3, 1}, ints, i64}}, {}},
          {"greater_i32", "greater", {{"a", {3, 8}, ints, i32}, {"b", {8}, ints, i32}}, {}},
          bools("equal_bool", "equal", {5}),
          bools("and", "and", {4, 1}),
          bools("or", "or", {5}),
          bools("xor", "xor", {4, 5}),
          {"not", "not", {{"x", {4, 5}, Domain::kBool, boolean}}, {}},
      },
      /*f16=*/false);
}

TEST_F(VulkanModelOps, ReductionsAndLogSoftmax) {
  const auto axes = [](std::vector<int64_t> a) { return AttrValue{std::move(a)}; };
  check_all({
      {"reduce_sum", "reduce_sum", {{"x", {3, 4, 5}}}, {{"axes", axes({1})}}},
      {"reduce_mean_keep0",
       "reduce_mean",
       {{"x", {3, 4, 5}}},
       {{"axes", axes({0, 2})}, {"keepdims", int64_t{0}}}},
      {"reduce_mean_spatial", "reduce_mean", {{"x", {2, 3, 5, 6}}}, {{"axes", axes({2, 3})}}},
      {"reduce_max", "reduce_max", {{"x", {3, 4, 150}}}, {{"axes", axes({-1})}}},
      {"reduce_min_all", "reduce_min", {{"x", {3, 4, 5}}}, {{"axes", axes({0, 1, 2})}}},
      {"reduce_prod", "reduce_prod", {{"x", {3, 6, 2}, Domain::kNearOne}}, {{"axes", axes({1})}}},
      {"reduce_log_sum_exp", "reduce_log_sum_exp", {{"x", {3, 4, 5}}}, {{"axes", axes({2, 0})}}},
      {"log_softmax_axis1", "log_softmax", {{"x", {3, 7, 4}}}, {{"axis", int64_t{1}}}},
      {"log_softmax_last", "log_softmax", {{"x", {2, 300}}}, {}},
  });
}

TEST_F(VulkanModelOps, ConvAndPooling) {
  const auto ints = [](std::vector<int64_t> a) { return AttrValue{std::move(a)}; };
  // The attributes of a grouped, strided, padded and dilated convolution
  // (and a transposed one's output padding).
  const auto grouped = [&ints](int64_t group, std::vector<int64_t> strides,
                               std::vector<int64_t> pads, std::vector<int64_t> dilations,
                               std::vector<int64_t> output_padding = {}) {
    AttrMap attrs{{"group", group},
                  {"strides", ints(std::move(strides))},
                  {"pads", ints(std::move(pads))},
                  {"dilations", ints(std::move(dilations))}};
    if (!output_padding.empty()) attrs["output_padding"] = ints(std::move(output_padding));
    return attrs;
  };
  check_all({
      {"conv2d_groups_strides_dilations_pads",
       "conv",
       {{"x", {2, 4, 7, 6}}, {"w", {6, 2, 3, 3}}, {"b", {6}}},
       grouped(2, {2, 1}, {1, 0, 1, 2}, {1, 2})},
      {"conv1d", "conv", {{"x", {1, 3, 10}}, {"w", {4, 3, 3}}}, {{"pads", ints({1, 1})}}},
      {"conv2d_depthwise",
       "conv",
       {{"x", {1, 4, 5, 5}}, {"w", {4, 1, 3, 3}}},
       {{"group", int64_t{4}}, {"pads", ints({1, 1, 1, 1})}}},
      {"conv_transpose2d_groups_strides_dilations_pads",
       "conv_transpose",
       {{"x", {2, 4, 4, 3}}, {"w", {4, 3, 3, 2}}, {"b", {6}}},
       grouped(2, {2, 3}, {1, 0, 0, 1}, {1, 2}, /*output_padding=*/{1, 0})},
      {"conv_transpose1d_cropped",
       "conv_transpose",
       {{"x", {1, 3, 5}}, {"w", {3, 2, 4}}},
       {{"pads", ints({-1, 1})}}},
      {"max_pool2d",
       "max_pool",
       {{"x", {2, 3, 7, 7}}},
       {{"kernel", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}},
      {"max_pool1d_ceil",
       "max_pool",
       {{"x", {1, 2, 10}}},
       {{"kernel", ints({3})}, {"strides", ints({2})}, {"ceil_mode", int64_t{1}}}},
      {"avg_pool2d_pads_excluded",
       "avg_pool",
       {{"x", {1, 3, 6, 5}}},
       {{"kernel", ints({3, 2})}, {"pads", ints({1, 1, 1, 0})}}},
      {"avg_pool2d_pads_counted_dilated",
       "avg_pool",
       {{"x", {1, 2, 7, 7}}},
       {{"kernel", ints({2, 2})},
        {"pads", ints({1, 1, 1, 1})},
        {"dilations", ints({2, 2})},
        {"count_include_pad", int64_t{1}}}},
  });
}

}  // namespace
}  // namespace rtscope::vulkan_testing
