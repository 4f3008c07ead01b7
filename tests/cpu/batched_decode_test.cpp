// Batched decode on the CPU plugin: B streams of the built-in decoder in one
// model, each with its own prompt and position (pos [B]), against the
// float64 reference step by step, eager and under whole-graph capture; each
// stream's tokens equal the stream decoded alone; a shared pos [1] still
// advances every stream together.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/batched_stream_check.hpp"
#include "support/small_models.hpp"

namespace rtscope {
namespace {

using testing::BatchedStreams;
using testing::run_batched_streams;

constexpr double kTol = 1e-4;

DecoderParams batched(int64_t batch) {
  DecoderParams params = testing::small_decoder_params();
  params.batch = batch;
  return params;
}

class BatchedDecode : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }
  std::unique_ptr<Model> build(int64_t batch) {
    return Model::build(build_decoder(batched(batch)), registry_, {.backends = {"cpu"}});
  }
  PluginRegistry registry_;
};

TEST_P(BatchedDecode, EachStreamAtItsOwnPositionMatchesTheReference) {
  const int64_t batch = GetParam();
  auto model = build(batch);
  const BatchedStreams streams{.batch = batch};
  run_batched_streams(*model, batched(batch), streams, 0, batch, kTol);
}

TEST_P(BatchedDecode, CapturedStepsMatchTheReference) {
  const int64_t batch = GetParam();
  auto model = build(batch);
  auto capture = graph_capture(*model);
  const BatchedStreams streams{.batch = batch, .steps = 5};
  run_batched_streams(*model, batched(batch), streams, 0, batch, kTol);
  EXPECT_GT(model->modules()[0]->stats().plugin_counters.at("replays"), 0u)
      << "decode steps after the first replay the recording";
}

TEST_P(BatchedDecode, EachStreamEqualsTheStreamDecodedAlone) {
  const int64_t batch = GetParam();
  // Same kernels in both models (no tuning between runs), so any
  // difference is a stream seeing another's rows or position.
  auto together = build(batch);
  auto settings = runtime_config(*together, {{"kernel_specialization", "none"}});
  const BatchedStreams streams{.batch = batch, .steps = 6};
  const auto tokens = run_batched_streams(*together, batched(batch), streams, 0, batch, 0);
  std::set<int64_t> first_tokens;
  for (int64_t b = 0; b < batch; ++b) {
    auto alone = build(1);
    auto alone_settings = runtime_config(*alone, {{"kernel_specialization", "none"}});
    const auto expected = run_batched_streams(*alone, batched(1), streams, b, 1, 0);
    for (std::size_t step = 0; step < tokens.size(); ++step) {
      EXPECT_EQ(tokens[step][b], expected[step][0]) << "stream " << b << ", step " << step;
    }
    first_tokens.insert(tokens[0][b]);
  }
  if (batch > 2) EXPECT_GT(first_tokens.size(), 1u) << "streams with other prompts differ";
}

INSTANTIATE_TEST_SUITE_P(Batches, BatchedDecode, ::testing::Values(1, 3, 8),
                         [](const auto& info) { return "batch" + std::to_string(info.param); });

TEST(BatchedDecodeShared, OnePositionForEveryStreamMatchesTheReference) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  const DecoderParams params = batched(3);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  EXPECT_EQ(model->graph().type_of("pos").str(), "i64[streams]");
  std::map<std::string, reference::RefTensor> ref_states;
  const BatchedStreams streams{.batch = 3};
  const std::map<std::string, Tensor> inputs = {{"tokens", streams.prompt_of(0, 3, params.vocab)},
                                                {"pos", testing::position_tensor(2)}};
  std::map<std::string, reference::RefTensor> ref_inputs;
  for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
  const auto out = model->run(inputs);
  const auto expected = reference::run_graph(model->graph(), ref_inputs, ref_states);
  EXPECT_LE(reference::closeness(out.at("logits"), expected.at("logits"), kTol, kTol), 1.0);
}

TEST(BatchedDecodeShared, APositionOutsideTheCacheNamesTheStream) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  const DecoderParams params = batched(3);
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  const BatchedStreams streams{.batch = 3};
  try {
    model->run({{"tokens", streams.prompt_of(0, 3, params.vocab)},
                {"pos", testing::positions_tensor({0, params.max_seq - 2, 1})}});
    FAIL() << "expected an error for pos[1] + 4 > max_seq";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("pos[1] = 30 + 4 steps exceeds cache length 32"),
              std::string::npos)
        << error.what();
  }
  // Two positions for three streams: the shape rule names both forms.
  try {
    model->run({{"tokens", streams.prompt_of(0, 3, params.vocab)},
                {"pos", testing::positions_tensor({0, 1})}});
    FAIL() << "expected an error for pos [2] with 3 streams";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("or i64[3] (one per batch row)"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace rtscope
