// Hugging Face Llama checkpoints on the CPU plugin: tiny checkpoints written
// at test time (GQA and not, tied and untied, F32/F16/BF16, one file and
// shards) loaded with load_llama_checkpoint and streamed against the
// float64 Llama forward pass; weights stored in the model's dtype are used
// from the mapping without a copy.
#include "rtscope/llama_checkpoint.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/checkpoint_stream_check.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_llama.hpp"

namespace rtscope {
namespace {

using testing::TempDir;
using testing::TinyLlama;

constexpr double kF32Tol = 1e-4;
constexpr double kF16Tol = 3e-2;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }

  // Writes `config`, loads it with `options` and streams it on cpu.
  LlamaLoadStats check(const TinyLlama& config, const LlamaLoadOptions& options, double tol) {
    const auto tensors = testing::write_tiny_llama(dir_.path(), config);
    LlamaLoadStats stats;
    Graph graph = load_llama_checkpoint(dir_.path(), options, &stats);
    auto model = Model::build(std::move(graph), registry_, {.backends = {"cpu"}});
    testing::expect_checkpoint_stream_matches(*model, config, tensors, tol);
    return stats;
  }

  PluginRegistry registry_;
  TempDir dir_;
};

TEST_F(CheckpointTest, F32GroupedQueryAttentionMatchesReference) {
  TinyLlama config;  // 4 heads, 2 KV heads, untied
  const LlamaLoadStats stats = check(config, {}, kF32Tol);
  EXPECT_EQ(stats.files, 1);
  EXPECT_EQ(stats.converted_bytes, 0u) << "f32 weights for an f32 model are used in place";
  EXPECT_GT(stats.mapped_bytes, 0u);
}

TEST_F(CheckpointTest, MultiHeadAttentionWithTiedEmbeddingsMatchesReference) {
  TinyLlama config;
  config.kv_heads = config.heads;
  config.tied = true;
  check(config, {}, kF32Tol);
}

TEST_F(CheckpointTest, MultiQueryAttentionMatchesReference) {
  TinyLlama config;
  config.kv_heads = 1;
  config.rope_theta = 10000.0;
  config.rms_norm_eps = 1e-6;
  check(config, {}, kF32Tol);
}

TEST_F(CheckpointTest, ShardedBf16ConvertedToF32MatchesReference) {
  TinyLlama config;
  config.dtype = "BF16";
  config.shards = 3;
  config.tied = true;
  const LlamaLoadStats stats = check(config, {.dtype = DType::f32}, kF32Tol);
  EXPECT_EQ(stats.files, 3);
  EXPECT_EQ(stats.mapped_bytes, 0u) << "bf16 is converted once at load";
  EXPECT_GT(stats.converted_bytes, 0u);
}

TEST_F(CheckpointTest, Bf16DefaultsToF16AndMatchesReference) {
  TinyLlama config;
  config.dtype = "BF16";
  const auto tensors = testing::write_tiny_llama(dir_.path(), config);
  const Graph graph = load_llama_checkpoint(dir_.path());
  EXPECT_EQ(graph.weights.front().info.type.dtype, DType::f16);
  auto model = Model::build(graph, registry_, {.backends = {"cpu"}});
  testing::expect_checkpoint_stream_matches(*model, config, tensors, kF16Tol);
}

TEST_F(CheckpointTest, F16WeightsAreUsedFromTheMapping) {
  TinyLlama config;
  config.dtype = "F16";
  const LlamaLoadStats stats = check(config, {}, kF16Tol);
  EXPECT_EQ(stats.converted_bytes, 0u);
  EXPECT_GT(stats.mapped_bytes, 0u);
}

TEST_F(CheckpointTest, PrefaultPagesInTheMappedWeightsUntilStopped) {
  TinyLlama config;
  config.dtype = "F16";
  const auto tensors = testing::write_tiny_llama(dir_.path(), config);
  LlamaLoadStats stats;
  const Graph graph = load_llama_checkpoint(dir_.path(), {}, &stats);
  ASSERT_GT(stats.mapped_bytes, 0u);
  EXPECT_EQ(prefault_weights(graph, [] { return true; }), 0u) << "stopped before any slice";
  int asked = 0;
  const uint64_t one = prefault_weights(graph, [&asked] { return ++asked > 1; });
  EXPECT_GT(one, 0u);
  EXPECT_LT(one, stats.mapped_bytes) << "one slice of the first weight only";
  // Every weight, each from the start of its first page.
  const uint64_t all = prefault_weights(graph, [] { return false; });
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  EXPECT_GE(all, stats.mapped_bytes);
  EXPECT_LE(all, stats.mapped_bytes + graph.weights.size() * page);
  // The weights read the same afterwards: the model still matches.
  Graph reloaded = load_llama_checkpoint(dir_.path(), {});
  prefault_weights(reloaded, [] { return false; });
  auto model = Model::build(std::move(reloaded), registry_, {.backends = {"cpu"}});
  testing::expect_checkpoint_stream_matches(*model, config, tensors, kF16Tol);
}

// Resident bytes (smaps "Rss") of the mappings holding `graph`'s weights.
uint64_t resident_weight_bytes(const Graph& graph) {
  uintptr_t low = UINTPTR_MAX, high = 0;
  for (const Weight& weight : graph.weights) {
    if (weight.init.kind != WeightInit::Kind::tensor || weight.init.data.size_bytes() == 0)
      continue;
    const auto begin = reinterpret_cast<uintptr_t>(weight.init.data.data_as<unsigned char>());
    low = std::min(low, begin);
    high = std::max(high, begin + weight.init.data.size_bytes());
  }
  std::ifstream smaps("/proc/self/smaps");
  uint64_t rss_kb = 0;
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t from = 0, to = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &from, &to) == 2 && line.find(':') > line.find('-')) {
      inside = from < high && to > low;
      continue;
    }
    uint64_t kb = 0;
    if (inside && std::sscanf(line.c_str(), "Rss: %lu kB", &kb) == 1) rss_kb += kb;
  }
  return rss_kb * 1024;
}

TEST_F(CheckpointTest, PrefaultByReadingEachPageMapsTheWeights) {
  // The path for kernels without MADV_POPULATE_READ, forced.
  TinyLlama config;
  config.dtype = "F16";
  testing::write_tiny_llama(dir_.path(), config);
  LlamaLoadStats stats;
  const Graph graph = load_llama_checkpoint(dir_.path(), {}, &stats);
  ASSERT_GT(stats.mapped_bytes, 0u);
  const uint64_t before = resident_weight_bytes(graph);
  const uint64_t done = prefault_weights(
      graph, [] { return false; }, PrefaultMethod::touch);
  EXPECT_GE(done, stats.mapped_bytes);
  const uint64_t after = resident_weight_bytes(graph);
  EXPECT_GE(after, stats.mapped_bytes) << "resident before: " << before;
}

// The plugin's counters of where its constants live, after a stream.
std::map<std::string, uint64_t> constant_counters(const Model& model) {
  EXPECT_EQ(model.modules().size(), 1u);
  std::map<std::string, uint64_t> counters;
  for (const auto& [name, value] : model.modules().at(0)->stats().plugin_counters) {
    if (name.starts_with("constant_bytes_")) counters[name] = value;
  }
  return counters;
}

TEST_F(CheckpointTest, CpuPluginReadsTheMappedWeightsWithoutACopy) {
  TinyLlama config;  // F32 stored, f32 model: every weight is the mapping
  const auto tensors = testing::write_tiny_llama(dir_.path(), config);
  LlamaLoadStats stats;
  Graph graph = load_llama_checkpoint(dir_.path(), {}, &stats);
  uint64_t weight_bytes = 0;
  for (const Weight& weight : graph.weights) weight_bytes += weight.init.data.size_bytes();
  ASSERT_EQ(stats.mapped_bytes, weight_bytes);
  auto model = Model::build(std::move(graph), registry_, {.backends = {"cpu"}});
  testing::expect_checkpoint_stream_matches(*model, config, tensors, kF32Tol);
  const auto counters = constant_counters(*model);
  EXPECT_EQ(counters.at("constant_bytes_copied"), 0u);
  EXPECT_EQ(counters.at("constant_bytes_converted"), 0u);
  // The template's own constants (if any) are lent too, so at least the
  // mapped bytes are read in place.
  EXPECT_GE(counters.at("constant_bytes_borrowed"), stats.mapped_bytes);
}

TEST_F(CheckpointTest, F16WeightsAreConvertedOnceByThePluginNotCopied) {
  TinyLlama config;
  config.dtype = "F16";
  const auto tensors = testing::write_tiny_llama(dir_.path(), config);
  LlamaLoadStats stats;
  Graph graph = load_llama_checkpoint(dir_.path(), {}, &stats);
  auto model = Model::build(std::move(graph), registry_, {.backends = {"cpu"}});
  testing::expect_checkpoint_stream_matches(*model, config, tensors, kF16Tol);
  const auto counters = constant_counters(*model);
  EXPECT_EQ(counters.at("constant_bytes_copied"), 0u);
  EXPECT_GE(counters.at("constant_bytes_borrowed"), stats.mapped_bytes);
  // The f16 matmuls compute in f32: their weights get one f32 copy, at most
  // twice the f16 bytes of the whole model.
  EXPECT_GT(counters.at("constant_bytes_converted"), 0u);
  EXPECT_LE(counters.at("constant_bytes_converted"), 2 * counters.at("constant_bytes_borrowed"));
}

TEST_F(CheckpointTest, F16CheckpointLoadedAsF32MatchesReference) {
  TinyLlama config;
  config.dtype = "F16";
  config.shards = 2;
  check(config, {.dtype = DType::f32}, kF32Tol);
}

// A table of 2^21 elements is converted by several threads; every value
// must land where it belongs, and the first value beyond f16's range is
// the one reported.
TEST_F(CheckpointTest, LargeTensorsConvertOnAllCoresExactly) {
  TinyLlama config;
  config.dtype = "BF16";
  config.vocab = 65536;
  config.tied = true;
  config.layers = 1;
  auto tensors = testing::write_tiny_llama(dir_.path(), config);
  const std::vector<double>& table = tensors.front().values;  // model.embed_tokens.weight
  ASSERT_EQ(tensors.front().name, "model.embed_tokens.weight");
  for (DType dtype : {DType::f32, DType::f16}) {
    const Graph graph = load_llama_checkpoint(dir_.path(), {.dtype = dtype});
    const std::vector<double> loaded = graph.weights.front().init.data.to_doubles();
    ASSERT_EQ(loaded.size(), table.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < table.size(); ++i) {
      const double want = dtype == DType::f32 ? table[i] : testing::stored_value("F16", table[i]);
      mismatches += loaded[i] != want;
    }
    EXPECT_EQ(mismatches, 0u) << to_string(dtype);
  }
  tensors.front().values[1'900'000] = testing::stored_value("BF16", 1e6);
  tensors.front().values[1'500'000] = testing::stored_value("BF16", -2e6);
  tensors.front().values[1'040'000] = testing::stored_value("BF16", 3e6);  // first thread's range
  std::vector<const testing::NamedTensor*> all;
  for (const auto& t : tensors) all.push_back(&t);
  testing::write_safetensors(dir_ / "model.safetensors", all, "BF16");
  try {
    load_llama_checkpoint(dir_.path());
    FAIL() << "a bf16 value beyond f16's range was converted";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("element 1040000"));
  }
}

TEST_F(CheckpointTest, GraphTakesSizesAndConstantsFromConfig) {
  TinyLlama config;
  config.max_positions = 40;
  testing::write_tiny_llama(dir_.path(), config);
  const Graph graph = load_llama_checkpoint(dir_.path());
  bool saw_rope = false;
  for (const Node& node : graph.nodes) {
    if (node.op == "rope") {
      EXPECT_EQ(std::get<double>(node.attrs.at("base")), 500.0);
      saw_rope = true;
    }
    if (node.op == "rmsnorm") {
      EXPECT_EQ(std::get<double>(node.attrs.at("eps")), 1e-5);
    }
  }
  EXPECT_TRUE(saw_rope);
  // The KV cache holds max_position_embeddings positions by default.
  EXPECT_EQ(graph.states.front().info.type.shape[2].value, 40);
  const Graph shorter = load_llama_checkpoint(dir_.path(), {.dtype = std::nullopt, .max_seq = 16});
  EXPECT_EQ(shorter.states.front().info.type.shape[2].value, 16);
  EXPECT_THROW(load_llama_checkpoint(dir_.path(), {.dtype = std::nullopt, .max_seq = 41}),
               InputError);
}

TEST(CheckpointOptions, ParsesRunnerParamsAndNamesUnknownOnes) {
  const LlamaLoadOptions options = llama_load_options({{"dtype", "f16"}, {"max_seq", "64"}});
  EXPECT_EQ(options.dtype, DType::f16);
  EXPECT_EQ(options.max_seq, 64);
  try {
    llama_load_options({{"layers", "3"}});
    FAIL() << "an unknown parameter was accepted";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'layers'"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("dtype, max_seq, batch"));
  }
  EXPECT_THROW(llama_load_options({{"dtype", "bf16"}}), InputError);
  EXPECT_THROW(llama_load_options({{"max_seq", "0"}}), InputError);
}

}  // namespace
}  // namespace rtscope
