// The memory planner inside the cpu plugin: an internal kv_cache_update
// written in place, and B12's bound on the default decoder. The planner
// itself is tested on hand-built plans in tests/kit/memory_planner_test.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"
#include "support/cpu_variants.hpp"
#include "support/small_models.hpp"

namespace rtscope::cpu {
namespace {

using testing::plugin_counter_or_zero;

// cache_in -> scale -> cache (internal) -> kv_cache_update -> next (internal)
// -> scale -> y. The update's cache is dead after it, so the plan writes it
// in place: one cache-sized buffer in the arena instead of two.
Graph internal_cache_graph() {
  Graph g;
  g.name = "internal_cache";
  const ValueType cache_type{DType::f32,
                             {Dim::fixed(1), Dim::fixed(2), Dim::fixed(16), Dim::fixed(8)}};
  g.inputs.push_back({"cache_in", cache_type, {}});
  g.inputs.push_back(
      {"fresh", {DType::f32, {Dim::fixed(1), Dim::fixed(2), Dim::fixed(3), Dim::fixed(8)}}, {}});
  g.inputs.push_back({"pos", {DType::i64, {Dim::fixed(1)}}, {}});
  g.nodes.push_back({"prepare", "scale", {"cache_in"}, {"cache"}, {{"factor", 0.5}}, {}});
  g.nodes.push_back({"update", "kv_cache_update", {"cache", "fresh", "pos"}, {"next"}, {}, {}});
  g.nodes.push_back({"finish", "scale", {"next"}, {"y"}, {{"factor", 2.0}}, {}});
  g.outputs = {"y"};
  validate(g);
  return g;
}

TEST(PlannedCpuEngine, InternalCacheUpdateIsWrittenInPlace) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  const Graph graph = internal_cache_graph();
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  const Tensor cache_in = Tensor::random(DType::f32, {1, 2, 16, 8}, 5);
  const Tensor fresh = Tensor::random(DType::f32, {1, 2, 3, 8}, 6);
  const std::map<std::string, Tensor> inputs = {
      {"cache_in", cache_in}, {"fresh", fresh}, {"pos", testing::position_tensor(7)}};
  const auto out = model->run(inputs);

  std::map<std::string, reference::RefTensor> ref_inputs, states;
  for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
  const auto expected = reference::run_graph(model->graph(), ref_inputs, states);
  EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-6, 1e-6), 1.0);

  const uint64_t cache_bytes = 1 * 2 * 16 * 8 * sizeof(float);
  EXPECT_EQ(plugin_counter_or_zero(*model, "planned_peak_bytes"), cache_bytes);
  EXPECT_EQ(plugin_counter_or_zero(*model, "naive_peak_bytes"), 2 * cache_bytes);
}

// B12 as a check: the default decoder's prefill of 16 tokens needs at most
// 60% of the activation bytes that one buffer per intermediate would take.
TEST(PlannedCpuEngine, DefaultDecoderPrefillPlansAtMostSixtyPercentOfNaive) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  DecoderParams params;  // layers 2, d_model 256, heads 4, vocab 1024, max_seq 256
  params.seed = 7;
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  ASSERT_EQ(model->modules().size(), 1u);
  const Tensor tokens = Tensor::random(DType::i64, {1, 16}, 3, double(params.vocab - 1));
  model->run({{"tokens", tokens}, {"pos", testing::position_tensor(0)}});
  const uint64_t planned = plugin_counter_or_zero(*model, "planned_peak_bytes");
  const uint64_t naive = plugin_counter_or_zero(*model, "naive_peak_bytes");
  ASSERT_GT(planned, 0u);
  EXPECT_LE(static_cast<double>(planned), 0.6 * static_cast<double>(naive))
      << "planned " << planned << " bytes, naive " << naive;
}

}  // namespace
}  // namespace rtscope::cpu
