// graph_capture whole_graph on the Vulkan plugin: an execute's commands are
// recorded once per shape and binding and replayed with one submit; the
// results equal eager execution step by step.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"
#include "support/reference_outputs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using reference::RefTensor;
using testing::position_tensor;

DecoderParams stream_params() {
  DecoderParams params = testing::small_decoder_params(DType::f32);
  params.max_seq = 64;
  return params;
}

// Generic pipelines only: these tests compare recordings bit for bit and
// count them, and lazy specialization would re-record once its pipelines
// land (vulkan_specialization_test.cpp covers that).
void pin_generic_pipelines(Model& model) {
  for (Module* module : model.modules()) {
    RuntimeSettings settings = module->runtime_settings();
    settings.kernel_specialization = KernelSpecialization::none;
    module->set_runtime_settings(settings);
  }
}

// The stream decoder on the vulkan plugin, with generic pipelines.
class VulkanCapture : public VulkanTest {
 protected:
  std::unique_ptr<Model> pinned_stream_model(const Graph& graph = build_decoder(stream_params())) {
    auto model = build(graph);
    pin_generic_pipelines(*model);
    return model;
  }
};

Tensor token_row(int64_t token) {
  Tensor row = Tensor::empty(DType::i64, {1, 1});
  row.data_as<int64_t>()[0] = token;
  return row;
}

int64_t last_token(const Tensor& next) { return next.data_as<int64_t>()[next.numel() - 1]; }

TEST_F(VulkanCapture, ReplayEqualsEagerOverA64TokenStream) {
  const DecoderParams params = stream_params();
  const Graph graph = build_decoder(params);
  auto eager = pinned_stream_model(graph);
  auto captured = pinned_stream_model(graph);
  auto capture = graph_capture(*captured);

  constexpr int kPrompt = 8;
  constexpr int kTokens = 64;
  Tensor tokens = Tensor::random(DType::i64, {1, kPrompt}, 5, double(params.vocab - 1));
  int64_t pos = 0;
  int steps = 0;
  while (pos < kTokens) {
    const std::map<std::string, Tensor> inputs = {{"tokens", tokens},
                                                  {"pos", position_tensor(pos)}};
    const auto expected = eager->run(inputs);
    const auto out = captured->run(inputs);
    // The same kernels on the same data: replay gives eager's bits.
    EXPECT_EQ(out.at("logits").to_doubles(), expected.at("logits").to_doubles())
        << "step " << steps << " at pos " << pos;
    EXPECT_EQ(out.at("next_token").to_doubles(), expected.at("next_token").to_doubles())
        << "step " << steps;
    pos += tokens.shape()[1];
    tokens = token_row(last_token(expected.at("next_token")));
    ++steps;
  }
  for (const auto& [name, state] : captured->state()) {
    EXPECT_EQ(state.to_doubles(), eager->state().at(name).to_doubles()) << name;
  }
  const Module& module = *captured->modules()[0];
  // One recording for the prompt's shape, one for the decode step's; every
  // other step replays with the device-resident caches bound in place.
  EXPECT_EQ(counter(module, "records"), 2u);
  EXPECT_EQ(counter(module, "replays"), static_cast<uint64_t>(steps - 2));
  EXPECT_EQ(counter(module, "submits"), static_cast<uint64_t>(steps));
  EXPECT_EQ(counter(*eager->modules()[0], "records"), 0u) << "eager never records";
  expect_no_validation_errors(*captured);
}

TEST_F(VulkanCapture, ShapeChangeRecordsAgainAndOldShapesStillReplay) {
  auto model = pinned_stream_model();
  const Module& module = *model->modules()[0];
  auto capture = graph_capture(*model);
  std::map<std::string, RefTensor> ref_states;
  int64_t pos = 0;
  for (const int64_t length : {3, 5, 3, 3}) {
    const Tensor tokens =
        Tensor::random(DType::i64, {1, length}, 40 + pos, double(stream_params().vocab - 1));
    const std::map<std::string, Tensor> inputs = {{"tokens", tokens},
                                                  {"pos", position_tensor(pos)}};
    const auto out = model->run(inputs);
    const auto expected = testing::reference_outputs(model->graph(), inputs, ref_states);
    EXPECT_LE(reference::closeness(out.at("logits"), expected.at("logits"), 1e-4, 1e-4), 1.0)
        << "tokens of length " << length << " at pos " << pos;
    pos += length;
  }
  EXPECT_EQ(counter(module, "records"), 2u) << "lengths 3 and 5 each record once";
  EXPECT_EQ(counter(module, "replays"), 2u) << "the later length-3 runs replay";
  expect_no_validation_errors(*model);
}

TEST_F(VulkanCapture, LeavingTheScopeStopsReplayingAndANewScopeRecordsAgain) {
  auto model = pinned_stream_model();
  const Module& module = *model->modules()[0];
  const Tensor token = token_row(7);
  {
    auto capture = graph_capture(*model);
    model->run({{"tokens", token}, {"pos", position_tensor(0)}});
    model->run({{"tokens", token}, {"pos", position_tensor(1)}});
    EXPECT_EQ(counter(module, "records"), 1u);
    EXPECT_EQ(counter(module, "replays"), 1u);
  }
  // A settings change is a new context: its counters start over.
  model->run({{"tokens", token}, {"pos", position_tensor(2)}});
  EXPECT_EQ(counter(module, "records"), 0u) << "disabled capture records nothing";
  EXPECT_EQ(counter(module, "replays"), 0u);
  {
    auto capture = graph_capture(*model);
    model->run({{"tokens", token}, {"pos", position_tensor(3)}});
    EXPECT_EQ(counter(module, "records"), 1u) << "a new context records again";
  }
  EXPECT_EQ(module.stats().contexts_created, 3u);
  expect_no_validation_errors(*model);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
