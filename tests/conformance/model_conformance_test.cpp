// Whole models on the CPU plugin against the float64 reference: the decoder
// streams a prompt and decode steps through its KV caches; the mlp runs a
// batch.
#include <gtest/gtest.h>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"

namespace rtscope {
namespace {

Tensor position(int64_t value) {
  Tensor t = Tensor::empty(DType::i64, {1});
  t.data_as<int64_t>()[0] = value;
  return t;
}

class DecoderConformance : public ::testing::TestWithParam<DType> {};

TEST_P(DecoderConformance, StreamMatchesReferenceStepByStep) {
  const DType dtype = GetParam();
  DecoderParams params;
  params.layers = 2;
  params.d_model = 64;
  params.heads = 4;
  params.vocab = 97;
  params.max_seq = 32;
  params.dtype = dtype;
  params.seed = 11;
  Graph graph = build_decoder(params);

  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  std::map<std::string, reference::RefTensor> ref_states;

  const double tol = dtype == DType::f16 ? 3e-2 : 1e-4;
  const void* cache_storage = model->state().at("k_cache_0").data();
  Tensor tokens = Tensor::random(DType::i64, {1, 5}, 77, double(params.vocab - 1));
  int64_t pos = 0;
  for (int step = 0; step < 5; ++step) {
    const std::map<std::string, Tensor> inputs = {{"tokens", tokens}, {"pos", position(pos)}};
    std::map<std::string, reference::RefTensor> ref_inputs;
    for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);

    const auto out = model->run(inputs);
    const auto expected = reference::run_graph(model->graph(), ref_inputs, ref_states);

    const Tensor& logits = out.at("logits");
    EXPECT_EQ(logits.shape(), (Shape{1, tokens.shape()[1], params.vocab}));
    const double worst = reference::closeness(logits, expected.at("logits"), tol, tol);
    EXPECT_LE(worst, 1.0) << "step " << step << ": logits off by " << worst << "x tolerance";
    for (const auto& [name, state] : model->state()) {
      EXPECT_LE(reference::closeness(state, ref_states.at(name), tol, tol), 1.0)
          << "state " << name << " at step " << step;
    }
    EXPECT_EQ(model->state().at("k_cache_0").data(), cache_storage)
        << "the KV cache must be updated in place";

    // Feed back the predicted last token, one position at a time.
    pos += tokens.shape()[1];
    const Tensor& next = out.at("next_token");
    Tensor fed = Tensor::empty(DType::i64, {1, 1});
    fed.data_as<int64_t>()[0] = next.data_as<int64_t>()[next.numel() - 1];
    tokens = fed;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DecoderConformance, ::testing::Values(DType::f32, DType::f16),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(DecoderConformance, ResetStateZeroesWithoutReallocating) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  DecoderParams params;
  params.layers = 1;
  params.d_model = 32;
  params.heads = 2;
  params.vocab = 50;
  params.max_seq = 16;
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  // Bit-exact repeat needs the same kernels both times: lazy specialization
  // could switch kernels between the two runs.
  auto generic = runtime_config(*model, {{"kernel_specialization", "none"}});
  Tensor tokens = Tensor::random(DType::i64, {1, 4}, 5, 49);
  const auto first = model->run({{"tokens", tokens}, {"pos", position(0)}});
  const Tensor& cache = model->state().at("v_cache_0");
  const void* storage = cache.data();
  double sum = 0;
  for (double v : cache.to_doubles()) sum += std::abs(v);
  EXPECT_GT(sum, 0.0);
  model->reset_state();
  EXPECT_EQ(model->state().at("v_cache_0").data(), storage);
  for (double v : model->state().at("v_cache_0").to_doubles()) ASSERT_EQ(v, 0.0);
  // After a reset the same prompt gives the same logits again.
  const auto again = model->run({{"tokens", tokens}, {"pos", position(0)}});
  const auto a = first.at("logits").to_doubles();
  const auto b = again.at("logits").to_doubles();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

TEST(MlpConformance, BatchMatchesReference) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  MlpParams params;
  params.layers = 3;
  params.d_in = 48;
  params.hidden = 96;
  params.d_out = 24;
  params.seed = 3;
  auto model = Model::build(build_mlp(params), registry, {.backends = {"cpu"}});
  for (int64_t batch : {1, 7, 32}) {
    Tensor x = Tensor::random(DType::f32, {batch, params.d_in}, 100 + batch);
    const auto out = model->run({{"x", x}});
    std::map<std::string, reference::RefTensor> states;
    const auto expected =
        reference::run_graph(model->graph(), {{"x", reference::RefTensor::from(x)}}, states);
    EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-4, 1e-4), 1.0) << batch;
  }
}

}  // namespace
}  // namespace rtscope
