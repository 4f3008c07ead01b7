// Whole models on the CPU plugin against the float64 reference: the decoder
// streams a prompt and decode steps through its KV caches; the mlp runs a
// batch.
#include <gtest/gtest.h>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"
#include "support/reference_outputs.hpp"

namespace rtscope {
namespace {

using testing::position_tensor;

class DecoderConformance : public ::testing::TestWithParam<DType> {};

TEST_P(DecoderConformance, StreamMatchesReferenceStepByStep) {
  const DecoderParams params = testing::small_decoder_params(GetParam());
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  testing::expect_stream_matches_reference(*model, params);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DecoderConformance, ::testing::Values(DType::f32, DType::f16),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(DecoderConformance, ResetStateZeroesWithoutReallocating) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  DecoderParams params{.layers = 1, .d_model = 32, .heads = 2, .vocab = 50, .max_seq = 16};
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  // Bit-exact repeat needs the same kernels both times: lazy specialization
  // could switch kernels between the two runs.
  auto generic = runtime_config(*model, {{"kernel_specialization", "none"}});
  Tensor tokens = Tensor::random(DType::i64, {1, 4}, 5, 49);
  const auto first = model->run({{"tokens", tokens}, {"pos", position_tensor(0)}});
  const Tensor& cache = model->state().at("v_cache_0");
  const void* storage = cache.data();
  double sum = 0;
  for (double v : cache.to_doubles()) sum += std::abs(v);
  EXPECT_GT(sum, 0.0);
  model->reset_state();
  EXPECT_EQ(model->state().at("v_cache_0").data(), storage);
  for (double v : model->state().at("v_cache_0").to_doubles()) ASSERT_EQ(v, 0.0);
  // After a reset the same prompt gives the same logits again.
  const auto again = model->run({{"tokens", tokens}, {"pos", position_tensor(0)}});
  const auto a = first.at("logits").to_doubles();
  const auto b = again.at("logits").to_doubles();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

TEST(MlpConformance, BatchMatchesReference) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  MlpParams params{.layers = 3, .d_in = 48, .hidden = 96, .d_out = 24, .seed = 3};
  auto model = Model::build(build_mlp(params), registry, {.backends = {"cpu"}});
  for (int64_t batch : {1, 7, 32}) {
    Tensor x = Tensor::random(DType::f32, {batch, params.d_in}, 100 + batch);
    const auto out = model->run({{"x", x}});
    const auto expected = testing::reference_outputs(model->graph(), {{"x", x}});
    EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-4, 1e-4), 1.0) << batch;
  }
}

}  // namespace
}  // namespace rtscope
