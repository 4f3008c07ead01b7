// Ops whose output size is known only after running (nonzero,
// masked_select): their schemas, the float64 reference, and how the
// partitioner treats them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/tensor.hpp"
#include "support/error_of.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/reference_outputs.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// x f32[3,4] -> nonzero -> idx; x, mask -> masked_select -> sel
Graph data_dependent_graph(int64_t max_count) {
  Graph g;
  g.name = "data_dependent";
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(3), Dim::fixed(4)}}, {}});
  g.inputs.push_back({"mask", {DType::boolean, {Dim::fixed(3), Dim::fixed(4)}}, {}});
  Node nonzero{"nz", "nonzero", {"x"}, {"idx"}, {}, {}};
  if (max_count > 0) nonzero.attrs["max_count"] = max_count;
  g.nodes = {nonzero, {"sel", "masked_select", {"x", "mask"}, {"picked"}, {}, {}}};
  g.outputs = {"idx", "picked"};
  validate(g);
  return g;
}

reference::RefTensor ref(DType dtype, Shape shape, std::vector<double> data) {
  return reference::RefTensor{dtype, std::move(shape), std::move(data)};
}

TEST(DataDependentSchema, RowCountIsAFreshSymbolBoundedByTheInputSize) {
  const Graph g = data_dependent_graph(0);
  const ValueType& idx = g.values.at("idx");
  EXPECT_EQ(idx.dtype, DType::i64);
  ASSERT_EQ(idx.shape.size(), 2u);
  EXPECT_EQ(idx.shape[0].symbol, "idx_n");
  EXPECT_EQ(idx.shape[1], Dim::fixed(2));
  const SymbolRange& rows = g.symbols.at("idx_n");
  EXPECT_EQ(rows.min, 0);
  EXPECT_EQ(rows.max, 12);

  const ValueType& picked = g.values.at("picked");
  EXPECT_EQ(picked.dtype, DType::f32);
  ASSERT_EQ(picked.shape.size(), 1u);
  EXPECT_EQ(picked.shape[0].symbol, "picked_n");
  EXPECT_EQ(g.symbols.at("picked_n").max, 12);
}

TEST(DataDependentSchema, MaxCountMakesNonzeroStatic) {
  const Graph g = data_dependent_graph(5);
  EXPECT_EQ(g.values.at("idx").shape, (SymShape{Dim::fixed(5), Dim::fixed(2)}));
  EXPECT_EQ(g.symbols.count("idx_n"), 0u);
}

TEST(DataDependentSchema, MaskMustBeBoolOfTheInputShape) {
  Graph g;
  g.name = "bad_mask";
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(3)}}, {}});
  g.inputs.push_back({"mask", {DType::f32, {Dim::fixed(3)}}, {}});
  g.nodes = {{"sel", "masked_select", {"x", "mask"}, {"y"}, {}, {}}};
  g.outputs = {"y"};
  EXPECT_THROW(validate(g), InputError);
  g.inputs[1].type = {DType::boolean, {Dim::fixed(4)}};
  try {
    validate(g);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr("mask"), HasSubstr("shape of x")));
  }
}

TEST(DataDependentReference, NonzeroListsIndicesInRowMajorOrder) {
  const auto x = ref(DType::f32, {2, 3}, {0, 1.5, 0, -2, 0, 3});
  const auto out = reference::run_op("nonzero", {x}, {});
  EXPECT_EQ(out[0].dtype, DType::i64);
  EXPECT_THAT(out[0].shape, ElementsAre(3, 2));
  EXPECT_THAT(out[0].data, ElementsAre(0, 1, 1, 0, 1, 2));
}

TEST(DataDependentReference, NonzeroWithMaxCountPadsWithMinusOneAndTruncates) {
  const auto x = ref(DType::i32, {4}, {0, 7, 0, 9});
  const auto padded = reference::run_op("nonzero", {x}, {{"max_count", int64_t{3}}});
  EXPECT_THAT(padded[0].shape, ElementsAre(3, 1));
  EXPECT_THAT(padded[0].data, ElementsAre(1, 3, -1));
  const auto cut = reference::run_op("nonzero", {x}, {{"max_count", int64_t{1}}});
  EXPECT_THAT(cut[0].data, ElementsAre(1));
}

TEST(DataDependentReference, NonzeroOfAllZerosIsEmpty) {
  const auto out = reference::run_op("nonzero", {ref(DType::f32, {2, 2}, {0, 0, 0, 0})}, {});
  EXPECT_THAT(out[0].shape, ElementsAre(0, 2));
  EXPECT_TRUE(out[0].data.empty());
}

TEST(DataDependentReference, MaskedSelectKeepsMaskedElementsInOrder) {
  const auto x = ref(DType::f32, {2, 2}, {1, 2, 3, 4});
  const auto mask = ref(DType::boolean, {2, 2}, {1, 0, 0, 1});
  const auto out = reference::run_op("masked_select", {x, mask}, {});
  EXPECT_EQ(out[0].dtype, DType::f32);
  EXPECT_THAT(out[0].shape, ElementsAre(2));
  EXPECT_THAT(out[0].data, ElementsAre(1, 4));
}

TEST(DataDependentReference, GraphRunBindsTheDataDependentSymbols) {
  const Graph g = data_dependent_graph(0);
  std::map<std::string, reference::RefTensor> states;
  const auto out = reference::run_graph(
      g,
      {{"x", ref(DType::f32, {3, 4}, {0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3})},
       {"mask", ref(DType::boolean, {3, 4}, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})}},
      states);
  EXPECT_THAT(out.at("idx").shape, ElementsAre(3, 2));
  EXPECT_THAT(out.at("idx").data, ElementsAre(0, 1, 1, 0, 2, 3));
  EXPECT_THAT(out.at("picked").data, ElementsAre(0, 1, 3));
}

// x f32[3,4] -> nonzero (max_count 8: the testing plugin's static kernel)
//             -> nonzero (no max_count: its data-dependent kernel)
Graph two_nonzero_graph() {
  Graph g;
  g.name = "two_nonzero";
  g.inputs.push_back({"x", {DType::f32, {Dim::fixed(3), Dim::fixed(4)}}, {}});
  g.nodes = {{"padded", "nonzero", {"x"}, {"idx_padded"}, {{"max_count", int64_t{8}}}, {}},
             {"exact", "nonzero", {"x"}, {"idx_exact"}, {}, {}}};
  g.outputs = {"idx_padded", "idx_exact"};
  validate(g);
  return g;
}

using DataDependentModel = testing::TestingAndCpu;

// Runs two_nonzero_graph's model on `x`; both index lists must equal the
// float64 reference's exactly.
std::map<std::string, Tensor> run_and_expect_reference_indices(Model& model, const Tensor& x) {
  auto out = model.run({{"x", x}});
  const auto expected = testing::reference_outputs(model.graph(), {{"x", x}});
  for (const char* name : {"idx_padded", "idx_exact"}) {
    const auto got = reference::RefTensor::from(out.at(name));
    EXPECT_EQ(got.shape, expected.at(name).shape) << name;
    EXPECT_EQ(got.data, expected.at(name).data) << name;
  }
  return out;
}

TEST_F(DataDependentModel, WithoutFallbackBothKernelsRunOnTheFirstBackendAndMatchTheReference) {
  auto model = Model::build(two_nonzero_graph(), registry_, {.backends = {"testing", "cpu"}});
  ASSERT_EQ(model->placements().size(), 2u);
  EXPECT_EQ(model->placements()[0].plugin, "testing");
  EXPECT_THAT(model->placements()[0].reason, HasSubstr("testing:nonzero_padded"));
  EXPECT_EQ(model->placements()[1].plugin, "testing");

  Tensor x = Tensor::random(DType::f32, {3, 4}, 11);
  // Zero some elements so the index list is shorter than the input.
  float* data = static_cast<float*>(x.data());
  for (int i = 0; i < 12; i += 3) data[i] = 0.0f;
  const auto out = run_and_expect_reference_indices(*model, x);
  EXPECT_EQ(out.at("idx_padded").shape(), (Shape{8, 2}));
  EXPECT_EQ(out.at("idx_exact").shape(), (Shape{8, 2}));  // 12 elements, 4 zeroed
}

TEST_F(DataDependentModel, FallbackIsDecidedPerNodeFromTheKernelThePluginWouldPick) {
  // The static-shape kernel keeps its node on testing; only the node whose
  // kernel is data-dependent goes on to cpu.
  auto model = Model::build(two_nonzero_graph(), registry_,
                            {.backends = {"testing", "cpu"}, .fallback_data_dependent_ops = true});
  ASSERT_EQ(model->placements().size(), 2u);
  EXPECT_EQ(model->placements()[0].plugin, "testing");
  EXPECT_THAT(model->placements()[0].reason, HasSubstr("testing:nonzero_padded"));
  EXPECT_EQ(model->placements()[1].plugin, "cpu");
  EXPECT_THAT(model->placements()[1].reason, HasSubstr("cpu.nonzero.scan"));
  ASSERT_EQ(model->partitions().size(), 2u);

  Tensor x = Tensor::random(DType::f32, {3, 4}, 12);
  float* data = static_cast<float*>(x.data());
  for (int i = 1; i < 12; i += 4) data[i] = 0.0f;
  const auto out = run_and_expect_reference_indices(*model, x);
  EXPECT_EQ(out.at("idx_exact").shape(), (Shape{9, 2}));

  // The last backend keeps data-dependent nodes: there is nowhere to fall back to.
  std::vector<NodePlacement> placements;
  partition_graph(two_nonzero_graph(), registry_,
                  {.backends = {"testing"}, .fallback_data_dependent_ops = true}, &placements);
  ASSERT_EQ(placements.size(), 2u);
  EXPECT_EQ(placements[1].plugin, "testing");
}

// The testing plugin has nonzero but no masked_select: full compilation on
// it names that node, and without cpu no backend takes it.
TEST_F(DataDependentModel, DataDependentNodeTheFirstBackendLacksIsNamed) {
  const std::string message = testing::error_of([&] {
    partition_graph(data_dependent_graph(0), registry_,
                    {.backends = {"testing", "cpu"}, .require_full_compilation = true});
  });
  EXPECT_THAT(message,
              AllOf(HasSubstr("require_full_compilation"), HasSubstr("sel (masked_select)")));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("nz (nonzero)")));
  EXPECT_THAT(testing::error_of([&] {
                partition_graph(data_dependent_graph(0), registry_, {.backends = {"testing"}});
              }),
              AllOf(HasSubstr("'sel'"), HasSubstr("no backend"), HasSubstr("testing:")));
}

}  // namespace
}  // namespace rtscope
