// The built-in decoder on the Vulkan plugin against the float64 reference:
// a 5-token prompt, then decode steps fed back one token at a time through
// the KV caches, as tests/conformance/model_conformance_test.cpp does on
// the CPU.
#include <gtest/gtest.h>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

Tensor position(int64_t value) {
  Tensor t = Tensor::empty(DType::i64, {1});
  t.data_as<int64_t>()[0] = value;
  return t;
}

DecoderParams small_decoder(DType dtype) {
  DecoderParams params;
  params.layers = 2;
  params.d_model = 64;
  params.heads = 4;
  params.vocab = 97;
  params.max_seq = 32;
  params.dtype = dtype;
  params.seed = 11;
  return params;
}

class VulkanDecoder : public ::testing::TestWithParam<DType> {};

TEST_P(VulkanDecoder, StreamMatchesReferenceStepByStep) {
  const DType dtype = GetParam();
  const DecoderParams params = small_decoder(dtype);
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  ASSERT_EQ(model->modules().size(), 1u) << "every decoder op runs on the Vulkan plugin";
  const Module& module = *model->modules()[0];
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
  EXPECT_EQ(counter(module, "executes"), 5u);
  EXPECT_EQ(counter(module, "submits"), 5u) << "one submit per execute";
  EXPECT_EQ(counter(module, "plans_built"), 2u) << "one plan for the prompt, one for decode steps";
  // Each layer's two cache updates run in place on the device.
  EXPECT_EQ(counter(module, "in_place_updates"), 5u * 2 * params.layers);
  EXPECT_LT(counter(module, "barriers"), counter(module, "dispatches") + 5u * 2)
      << "independent dispatches (q/k/v projections, gate/up) share barriers";
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, VulkanDecoder, ::testing::Values(DType::f32, DType::f16),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// A position past the cache is rejected before anything is submitted, with
// the node named, as on the CPU.
TEST(VulkanDecoderErrors, PositionBeyondTheCacheFails) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const DecoderParams params = small_decoder(DType::f32);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"vulkan"}});
  Tensor tokens = Tensor::random(DType::i64, {1, 4}, 3, double(params.vocab - 1));
  try {
    model->run({{"tokens", tokens}, {"pos", position(params.max_seq - 2)}});
    FAIL() << "expected an error for pos + 4 > max_seq";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("exceeds cache length"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(counter(*model->modules()[0], "submits"), 0u);
  expect_no_validation_errors(*model);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
