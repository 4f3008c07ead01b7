// The stream workload with several streams per step (a decoder built with
// batch B): every stream gets its own seeded prompt, each stream's tokens
// equal the same stream decoded alone (batch 1, seed + b), one step counts
// B tokens, and a workload batch that does not fit the model is an error
// naming what to set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "workload.hpp"

namespace rtscope::runner {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kSteps = 7;

DecoderParams decoder(int64_t batch) {
  return DecoderParams{.layers = 1,
                       .d_model = 32,
                       .heads = 2,
                       .vocab = 61,
                       .max_seq = 32,
                       .batch = batch,
                       .seed = 5};
}

WorkloadConfig stream(uint64_t seed, int64_t batch = 0) {
  WorkloadConfig config;
  config.kind = WorkloadConfig::Kind::stream;
  config.prompt = 3;
  config.tokens = kSteps;
  config.seed = seed;
  config.batch = batch;
  return config;
}

class StreamBatch : public ::testing::Test {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }
  // A model with the same kernels as every other: no shape-specialized
  // variants. Its settings scope ends before the model does.
  struct Built {
    std::unique_ptr<Model> model;
    std::optional<RuntimeConfigScope> settings;
    Model& operator*() { return *model; }
  };
  Built build(int64_t batch) {
    Built built{Model::build(build_decoder(decoder(batch)), registry_, {.backends = {"cpu"}}), {}};
    built.settings.emplace(runtime_config(*built.model, {{"kernel_specialization", "none"}}));
    return built;
  }
  // Each step's tokens, [step][stream].
  static std::vector<std::vector<int64_t>> decode(Workload& workload) {
    std::vector<std::vector<int64_t>> tokens;
    for (int64_t step = 0; step < kSteps; ++step) {
      workload.run_iteration();
      const std::span<const int64_t> last = workload.last_tokens();
      tokens.emplace_back(last.begin(), last.end());
    }
    return tokens;
  }
  PluginRegistry registry_;
};

TEST_F(StreamBatch, EachStreamEqualsTheSameStreamAlone) {
  constexpr int64_t kBatch = 4;
  auto together = build(kBatch);
  const auto workload = make_workload(stream(11, kBatch), *together);
  EXPECT_EQ(workload->items_per_iteration(), kBatch) << "one token per stream and step";
  EXPECT_EQ(workload->describe(), "stream batch 4, prompt 3, tokens 7");
  const auto tokens = decode(*workload);
  std::set<std::vector<int64_t>> distinct;
  for (int64_t b = 0; b < kBatch; ++b) {
    auto alone = build(1);
    const auto single = make_workload(stream(11 + b), *alone);
    const auto expected = decode(*single);
    std::vector<int64_t> column;
    for (int64_t step = 0; step < kSteps; ++step) {
      EXPECT_EQ(tokens[step][b], expected[step][0]) << "stream " << b << ", step " << step;
      column.push_back(tokens[step][b]);
    }
    distinct.insert(column);
  }
  EXPECT_GT(distinct.size(), 1u) << "the streams have their own prompts, so their tokens differ";
}

TEST_F(StreamBatch, BatchDefaultsToTheModelsAndAMismatchNamesTheParam) {
  auto model = build(3);
  EXPECT_EQ(make_workload(stream(1), *model)->items_per_iteration(), 3);
  try {
    make_workload(stream(1, 8), *model);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_THAT(error.what(), HasSubstr("batch 8 does not fit the model"));
    EXPECT_THAT(error.what(), HasSubstr("params.batch=8"));
  }
}

}  // namespace
}  // namespace rtscope::runner
