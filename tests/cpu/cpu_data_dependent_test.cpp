// The cpu plugin's nonzero and masked_select against the float64
// reference: every dtype, counts that vary with seeded random data (exact
// zeros and random masks), empty results, the padded max_count form, and
// nodes after a data-dependent one whose shapes are resolved per execute.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/tensor.hpp"
#include "support/cpu_variants.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using testing::fixed_shape;
using ::testing::HasSubstr;

// Seeded values of `dtype` with roughly a third of the elements exactly
// zero, so that the nonzero count differs from the element count and
// between seeds.
Tensor sparse_random(DType dtype, const Shape& shape, uint64_t seed) {
  if (dtype == DType::boolean) return Tensor::random(dtype, shape, seed, 1.0);
  if (dtype == DType::i32 || dtype == DType::i64) return Tensor::random(dtype, shape, seed, 2.0);
  const Tensor values = Tensor::random(dtype, shape, seed);
  const Tensor picks = Tensor::random(DType::i32, shape, seed + 1000, 2.0);
  std::vector<double> data = values.to_doubles();
  Tensor result = values.clone();
  for (int64_t i = 0; i < result.numel(); ++i) {
    if (picks.data_as<int32_t>()[i] != 0) continue;
    if (dtype == DType::f32) result.data_as<float>()[i] = 0.0f;
    // -0 must count as zero too.
    if (dtype == DType::f16) result.data_as<uint16_t>()[i] = i % 2 ? 0x8000 : 0;
  }
  return result;
}

class CpuDataDependent : public testing::WithCpuPlugin<::testing::TestWithParam<DType>> {
 protected:
  static std::unique_ptr<Model> build(Graph g) {
    validate(g);
    return Model::build(std::move(g), *registry_, {.backends = {"cpu"}});
  }

  // Runs `model` and checks every output against the reference exactly:
  // indices and selected elements are copies, never arithmetic.
  static void expect_reference(Model& model, const std::map<std::string, Tensor>& inputs) {
    const auto out = model.run(inputs);
    const auto expected = testing::reference_outputs(model.graph(), inputs);
    for (const auto& name : model.graph().outputs) {
      const auto got = reference::RefTensor::from(out.at(name));
      EXPECT_EQ(got.dtype, expected.at(name).dtype) << name;
      EXPECT_EQ(got.shape, expected.at(name).shape) << name;
      EXPECT_EQ(got.data, expected.at(name).data) << name;
    }
  }
};

Graph nonzero_graph(DType dtype, const Shape& shape, int64_t max_count) {
  Graph g;
  g.name = "nonzero";
  g.inputs.push_back({"x", {dtype, fixed_shape(shape)}, {}});
  Node node{"nz", "nonzero", {"x"}, {"idx"}, {}, {}};
  if (max_count > 0) node.attrs["max_count"] = max_count;
  g.nodes = {node};
  g.outputs = {"idx"};
  return g;
}

Graph masked_select_graph(DType dtype, const Shape& shape) {
  Graph g;
  g.name = "masked_select";
  g.inputs.push_back({"x", {dtype, fixed_shape(shape)}, {}});
  g.inputs.push_back({"mask", {DType::boolean, fixed_shape(shape)}, {}});
  g.nodes = {{"sel", "masked_select", {"x", "mask"}, {"picked"}, {}, {}}};
  g.outputs = {"picked"};
  return g;
}

TEST_P(CpuDataDependent, NonzeroMatchesTheReferenceAsTheCountVaries) {
  const Shape shape{3, 5, 4};
  auto model = build(nonzero_graph(GetParam(), shape, 0));
  std::set<int64_t> counts;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const Tensor x = sparse_random(GetParam(), shape, seed);
    expect_reference(*model, {{"x", x}});
    counts.insert(model->run({{"x", x}}).at("idx").shape()[0]);
  }
  EXPECT_GT(counts.size(), 1u) << "the seeds should give different counts";
}

TEST_P(CpuDataDependent, NonzeroWithMaxCountPadsOrTruncates) {
  const Shape shape{6, 7};
  const Tensor x = sparse_random(GetParam(), shape, 5);
  // 4 truncates (about 28 nonzeros), 42 pads with rows of -1.
  for (int64_t max_count : {4, 42}) {
    auto model = build(nonzero_graph(GetParam(), shape, max_count));
    expect_reference(*model, {{"x", x}});
    EXPECT_EQ(model->run({{"x", x}}).at("idx").shape(), (Shape{max_count, 2}));
  }
}

TEST_P(CpuDataDependent, MaskedSelectMatchesTheReferenceForRandomMasks) {
  const Shape shape{4, 9};
  auto model = build(masked_select_graph(GetParam(), shape));
  for (uint64_t seed = 11; seed <= 13; ++seed) {
    expect_reference(*model, {{"x", Tensor::random(GetParam(), shape, seed, 5.0)},
                              {"mask", Tensor::random(DType::boolean, shape, seed + 1, 1.0)}});
  }
}

TEST_P(CpuDataDependent, EmptyResultsHaveZeroRows) {
  const Shape shape{2, 3};
  auto nonzero = build(nonzero_graph(GetParam(), shape, 0));
  const auto idx = nonzero->run({{"x", Tensor::zeros(GetParam(), shape)}}).at("idx");
  EXPECT_EQ(idx.shape(), (Shape{0, 2}));
  EXPECT_EQ(idx.dtype(), DType::i64);

  auto select = build(masked_select_graph(GetParam(), shape));
  const auto picked = select
                          ->run({{"x", Tensor::random(GetParam(), shape, 3, 5.0)},
                                 {"mask", Tensor::zeros(DType::boolean, shape)}})
                          .at("picked");
  EXPECT_EQ(picked.shape(), (Shape{0}));
  EXPECT_EQ(picked.dtype(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, CpuDataDependent,
                         ::testing::Values(DType::f32, DType::f16, DType::i32, DType::i64,
                                           DType::boolean),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// x, mask -> masked_select -> sel [n] -> softmax -> scale -> y [n]
// x -> relu -> r (static, before the data-dependent node)
// table, nonzero(mask) -> embedding -> rows [m, 2, 3]
Graph downstream_graph() {
  Graph g;
  g.name = "downstream";
  g.inputs.push_back({"x", {DType::f32, fixed_shape({5, 6})}, {}});
  g.inputs.push_back({"mask", {DType::boolean, fixed_shape({5, 6})}, {}});
  g.weights.push_back({{"table", {DType::f32, fixed_shape({6, 3})}, {}},
                       {WeightInit::Kind::seeded, 21, 1.0, 0.0, {}}});
  g.nodes = {
      {"relu", "relu", {"x"}, {"r"}, {}, {}},
      {"sel", "masked_select", {"x", "mask"}, {"picked"}, {}, {}},
      {"softmax", "softmax", {"picked"}, {"probs"}, {}, {}},
      {"scale", "scale", {"probs"}, {"y"}, {{"factor", 2.0}}, {}},
      {"nz", "nonzero", {"mask"}, {"idx"}, {}, {}},
      {"embed", "embedding", {"table", "idx"}, {"rows"}, {}, {}},
  };
  g.outputs = {"r", "y", "rows"};
  validate(g);
  return g;
}

TEST(CpuDataDependentEngine, NodesAfterADataDependentOneResolveTheirShapesOnEveryExecute) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(downstream_graph(), registry, {.backends = {"cpu"}});
  ASSERT_EQ(model->partitions().size(), 1u);
  std::set<int64_t> counts;
  for (uint64_t seed = 31; seed <= 34; ++seed) {
    const Tensor x = Tensor::random(DType::f32, {5, 6}, seed);
    const Tensor mask = Tensor::random(DType::boolean, {5, 6}, seed + 7, 1.0);
    const auto out = model->run({{"x", x}, {"mask", mask}});
    const auto expected = testing::reference_outputs(model->graph(), {{"x", x}, {"mask", mask}});
    for (const char* name : {"r", "y", "rows"}) {
      EXPECT_LE(reference::closeness(out.at(name), expected.at(name), 1e-6, 1e-5), 1.0)
          << name << ::testing::PrintToString(out.at(name).to_doubles()) << " vs "
          << ::testing::PrintToString(expected.at(name).data);
    }
    counts.insert(out.at("y").shape()[0]);
  }
  EXPECT_GT(counts.size(), 1u);
  const auto counters = model->modules()[0]->stats().plugin_counters;
  EXPECT_GT(counters.at("dynamic_shape_resolutions"), 0u);
  EXPECT_EQ(counters.at("plans_built"), 1u) << "one plan serves every count";
}

TEST(CpuDataDependentEngine, GraphCaptureRunsADataDependentEngineEagerlyAndSaysWhy) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(downstream_graph(), registry, {.backends = {"cpu"}});
  auto capture = graph_capture(*model);
  for (uint64_t seed = 41; seed <= 42; ++seed) {
    const Tensor x = Tensor::random(DType::f32, {5, 6}, seed);
    const Tensor mask = Tensor::random(DType::boolean, {5, 6}, seed + 7, 1.0);
    const auto out = model->run({{"x", x}, {"mask", mask}});
    const auto expected = testing::reference_outputs(model->graph(), {{"x", x}, {"mask", mask}});
    EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-6, 1e-5), 1.0);
  }
  const auto counters = model->modules()[0]->stats().plugin_counters;
  EXPECT_EQ(counters.at("eager_instead_of_capture"), 2u);
  EXPECT_EQ(counters.at("records"), 0u);
}

TEST(CpuDataDependentEngine, SupportQueryReportsOutputAllocationPerNode) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  Graph g = nonzero_graph(DType::f32, {4}, 0);
  g.nodes.push_back({"padded", "nonzero", {"x"}, {"idx_padded"}, {{"max_count", int64_t{2}}}, {}});
  g.outputs.push_back("idx_padded");
  validate(g);
  std::vector<NodePlacement> placements;
  // The last backend keeps every node; the reasons carry the kernel names.
  partition_graph(g, registry, {.backends = {"cpu"}}, &placements);
  ASSERT_EQ(placements.size(), 2u);
  EXPECT_THAT(placements[0].reason, HasSubstr("cpu.nonzero.scan)"));
  EXPECT_THAT(placements[1].reason, HasSubstr("cpu.nonzero.scan_padded"));
}

}  // namespace
}  // namespace rtscope
