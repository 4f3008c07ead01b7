// ONNX Einsum imported as reductions, transposes and batched products,
// against a float64 evaluation of the equation written here (a sum over
// every letter's range): matrix and batched products, attention's
// q·kᵀ, inner and outer products, a transpose, a full sum, the implicit
// output form, an ellipsis that broadcasts, and three operands. ONNX's own
// Einsum tests are float64, which rtscope lacks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using testing::OnnxModelBuilder;

// Σ over every assignment of the letters of prod(operands at their
// letters), for explicit equations without ellipses; `letters` lists each
// operand's letters and the output's, `dims` every letter's size.
std::vector<double> evaluate(const std::vector<std::string>& letters, const std::string& output,
                             const std::map<char, int64_t>& dims,
                             const std::vector<std::vector<double>>& operands) {
  std::string all;
  for (const auto& [c, n] : dims) all += c;
  int64_t out_size = 1;
  for (char c : output) out_size *= dims.at(c);
  std::vector<double> out(static_cast<std::size_t>(out_size), 0.0);
  std::map<char, int64_t> at;
  for (char c : all) at[c] = 0;
  for (;;) {
    double term = 1.0;
    for (std::size_t i = 0; i < operands.size(); ++i) {
      int64_t flat = 0;
      for (char c : letters[i]) flat = flat * dims.at(c) + at[c];
      term *= operands[i][flat];
    }
    int64_t flat = 0;
    for (char c : output) flat = flat * dims.at(c) + at[c];
    out[flat] += term;
    std::size_t d = all.size();
    while (d-- > 0) {
      if (++at[all[d]] < dims.at(all[d])) break;
      at[all[d]] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) break;
  }
  return out;
}

struct EinsumCase {
  std::string equation;              // as the node holds it
  std::vector<std::string> letters;  // per operand, ellipsis spelled out
  std::string output;                // likewise
  std::map<char, int64_t> dims;
  std::vector<std::vector<int64_t>> shapes;  // per operand (broadcast dims as 1)
};

void expect_matches(const EinsumCase& c) {
  SCOPED_TRACE(c.equation);
  OnnxModelBuilder m(12);
  std::vector<std::string> names;
  std::map<std::string, Tensor> inputs;
  std::vector<std::vector<double>> operands;
  for (std::size_t i = 0; i < c.shapes.size(); ++i) {
    names.push_back("x" + std::to_string(i));
    m.input(names.back(), c.shapes[i]);
    const Tensor t = Tensor::random(DType::f32, c.shapes[i], 70 + i, 1.0);
    inputs[names.back()] = t;
    // Broadcast dims (size 1 in the operand) repeat the one value.
    std::vector<double> full;
    int64_t total = 1;
    for (char ch : c.letters[i]) total *= c.dims.at(ch);
    for (int64_t flat = 0; flat < total; ++flat) {
      int64_t rest = flat, source = 0, stride = 1;
      for (std::size_t d = c.letters[i].size(); d-- > 0;) {
        const int64_t size = c.dims.at(c.letters[i][d]);
        const int64_t coord = rest % size;
        rest /= size;
        const int64_t own = c.shapes[i][d];
        source += (own == 1 ? 0 : coord) * stride;
        stride *= own;
      }
      full.push_back(t.data_as<float>()[source]);
    }
    operands.push_back(std::move(full));
  }
  std::vector<int64_t> out_shape;
  for (char ch : c.output) out_shape.push_back(c.dims.at(ch));
  m.output("y", out_shape);
  onnx::NodeProto& node = m.node("Einsum", names, {"y"}, "einsum");
  testing::set_attr(node, "equation", c.equation);
  const Graph graph = import_onnx(m.write(testing::fresh_dir("einsum")), {});
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  const Tensor y = model->run(inputs).at("y");
  const std::vector<double> expected = evaluate(c.letters, c.output, c.dims, operands);
  ASSERT_EQ(y.numel(), static_cast<int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(y.data_as<float>()[i], expected[i], 1e-4 * (1 + std::abs(expected[i]))) << i;
  }
}

TEST(OnnxEinsum, EquationsMatchTheirFloat64Sums) {
  expect_matches(
      {"ij,jk->ik", {"ij", "jk"}, "ik", {{'i', 3}, {'j', 4}, {'k', 5}}, {{3, 4}, {4, 5}}});
  expect_matches({"bij,bjk->bik",
                  {"bij", "bjk"},
                  "bik",
                  {{'b', 2}, {'i', 3}, {'j', 4}, {'k', 2}},
                  {{2, 3, 4}, {2, 4, 2}}});
  expect_matches({"bhid,bhjd->bhij",
                  {"bhid", "bhjd"},
                  "bhij",
                  {{'b', 1}, {'h', 2}, {'i', 3}, {'j', 4}, {'d', 5}},
                  {{1, 2, 3, 5}, {1, 2, 4, 5}}});
  expect_matches({"i,j->ij", {"i", "j"}, "ij", {{'i', 3}, {'j', 4}}, {{3}, {4}}});
  expect_matches({"ij->ji", {"ij"}, "ji", {{'i', 3}, {'j', 4}}, {{3, 4}}});
  expect_matches({"ijk->j", {"ijk"}, "j", {{'i', 2}, {'j', 3}, {'k', 4}}, {{2, 3, 4}}});
  // Implicit output: the letters used once, alphabetically (ki).
  expect_matches({"ij,jk", {"ij", "jk"}, "ik", {{'i', 2}, {'j', 3}, {'k', 4}}, {{2, 3}, {3, 4}}});
  // An ellipsis broadcast from 1 against 2 (letters A, B for its dims).
  expect_matches({"...ij,...jk->...ik",
                  {"ABij", "ABjk"},
                  "ABik",
                  {{'A', 2}, {'B', 3}, {'i', 2}, {'j', 4}, {'k', 3}},
                  {{2, 1, 2, 4}, {1, 3, 4, 3}}});
  // Three operands, one letter summed over by the first alone.
  expect_matches({"bn,anm,bm->ba",
                  {"bn", "anm", "bm"},
                  "ba",
                  {{'a', 3}, {'b', 2}, {'m', 4}, {'n', 5}},
                  {{2, 5}, {3, 5, 4}, {2, 4}}});
}

TEST(OnnxEinsum, DiagonalsAndMismatchesNameTheNode) {
  auto error_of = [](const std::string& equation, const std::vector<std::vector<int64_t>>& shapes) {
    OnnxModelBuilder m(12);
    std::vector<std::string> names;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      names.push_back("x" + std::to_string(i));
      m.input(names.back(), shapes[i]);
    }
    m.output("y", {-1});
    testing::set_attr(m.node("Einsum", names, {"y"}, "einsum"), "equation", equation);
    try {
      import_onnx(m.write(testing::fresh_dir("einsum_bad")), {});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(error_of("ii->i", {{3, 3}}), HasSubstr("repeats within operand 0 (a diagonal)"));
  EXPECT_THAT(error_of("ij,jk->ik", {{3, 4}, {5, 2}}), HasSubstr("letter 'j' has sizes 4 and 5"));
  EXPECT_THAT(error_of("ij->ik", {{3, 4}}), HasSubstr("output letter 'k'"));
  EXPECT_THAT(error_of("ij,jk->ik", {{3, 4}}), HasSubstr("names 2 operands for 1 inputs"));
  EXPECT_THAT(error_of("ijk->i", {{3, 4}}), HasSubstr("node 'einsum'"));
}

}  // namespace
}  // namespace rtscope
