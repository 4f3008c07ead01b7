// Fusion in the CPU plugin's execution plans (plugins/cpu/fusion.hpp):
// fused decoders against the float64 reference with every product kernel
// the tuner may pick, eager and captured; fused graphs of each kind on
// their own (residual in place and not, with a bias, silu·mul, rope into
// heads and into a cache); and RTSCOPE_CPU_FUSION=0 against the default
// on the same decoder: the same tokens.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/cpu_variants.hpp"
#include "support/decoder_stream_check.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/small_models.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using testing::EnvGuard;
using testing::fixed_shape;
using testing::position_tensor;

using testing::plugin_counter_or_zero;

class CpuFusion : public ::testing::Test {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }

  std::unique_ptr<Model> build(const Graph& graph) {
    return Model::build(graph, registry_, {.backends = {"cpu"}});
  }

  PluginRegistry registry_;
};

// Five groups per layer: q rope to heads, k rope into the cache, o_proj +
// residual, up_proj + silu·mul, down_proj + residual.
constexpr uint64_t kGroupsPerLayer = 5;

struct VariantCase {
  const char* variant;
  bool hf_layout;  // projections as matmul with transpose_b (Hugging Face weights)
  const char* capture;
};

void PrintTo(const VariantCase& c, std::ostream* out) {
  *out << c.variant << (c.hf_layout ? " (matmul projections)" : "") << ", capture " << c.capture;
}

class FusedDecoderVariants : public CpuFusion, public ::testing::WithParamInterface<VariantCase> {};

// Every product kernel runs the fused epilogues; the stream's logits and
// KV caches match the reference after each of its five steps.
TEST_P(FusedDecoderVariants, StreamMatchesFloat64Reference) {
  const VariantCase& param = GetParam();
  const EnvGuard forced("RTSCOPE_CPU_FORCE_VARIANT", param.variant);
  DecoderParams params = testing::small_decoder_params();
  params.out_in_weights = param.hf_layout;
  auto model = build(build_decoder(params));
  auto config = runtime_config(
      *model, {{"kernel_specialization", "eager"}, {"graph_capture", param.capture}});
  testing::expect_stream_matches_reference(*model, params);
  EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"), kGroupsPerLayer * params.layers);
  EXPECT_GT(plugin_counter_or_zero(*model, std::string("variant.") + param.variant), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Cpu, FusedDecoderVariants,
    ::testing::Values(VariantCase{"linear.sgemm", false, "disabled"},
                      VariantCase{"linear.sgemv", false, "whole_graph"},
                      VariantCase{"linear.split_n", false, "disabled"},
                      VariantCase{"linear.onednn", false, "whole_graph"},
                      VariantCase{"linear.onednn_split_n", false, "whole_graph"},
                      VariantCase{"linear.onednn_split_n", false, "disabled"},
                      VariantCase{"matmul.generic", true, "disabled"},
                      VariantCase{"matmul.onednn", true, "whole_graph"},
                      VariantCase{"matmul.onednn_split_n", true, "disabled"}),
    [](const auto& info) {
      return testing::test_name_of(std::string(info.param.variant) + "_" + info.param.capture);
    });

TEST_F(CpuFusion, OffRunsEveryNodeAndStillMatchesReference) {
  const EnvGuard off("RTSCOPE_CPU_FUSION", "0");
  const DecoderParams params = testing::small_decoder_params();
  auto model = build(build_decoder(params));
  testing::expect_stream_matches_reference(*model, params);
  EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"), 0u);
}

// f16 nodes convert around f32 kernels and are never fused.
TEST_F(CpuFusion, F16DecoderRunsUnfused) {
  const DecoderParams params = testing::small_decoder_params(DType::f16);
  auto model = build(build_decoder(params));
  testing::expect_stream_matches_reference(*model, params);
  EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"), 0u);
}

using testing::f32_value;

WeightInit seeded(uint64_t seed, double scale = 0.3) {
  return {WeightInit::Kind::seeded, seed, scale, 0.0, {}};
}

// y1 = r + linear(x, W, b), with r = relu(z) an intermediate nothing reads
// later (the sum goes into r's storage, the product accumulates onto it);
// y2 = z + linear(x, W2), with z an engine input (the sum is a new tensor);
// y3 = silu(linear(x, Wg)) · linear(x, Wu).
Graph epilogue_graph(int64_t rows) {
  Graph g;
  g.name = "epilogues";
  g.inputs.push_back({"x", f32_value({rows, 24}), {}});
  g.inputs.push_back({"z", f32_value({rows, 40}), {}});
  g.weights.push_back({{"w", f32_value({24, 40}), {}}, seeded(1)});
  g.weights.push_back({{"b", f32_value({40}), {}}, seeded(2)});
  g.weights.push_back({{"w2", f32_value({24, 40}), {}}, seeded(3)});
  g.weights.push_back({{"wg", f32_value({24, 40}), {}}, seeded(4)});
  g.weights.push_back({{"wu", f32_value({24, 40}), {}}, seeded(5)});
  g.nodes = {
      {"r", "relu", {"z"}, {"r"}, {}, {}},
      {"proj", "linear", {"x", "w", "b"}, {"p"}, {}, {}},
      {"res", "add", {"r", "p"}, {"s"}, {}, {}},
      {"y1", "scale", {"s"}, {"y1"}, {{"factor", 1.5}}, {}},
      {"proj2", "linear", {"x", "w2"}, {"p2"}, {}, {}},
      {"res2", "add", {"z", "p2"}, {"y2"}, {}, {}},
      {"gate", "linear", {"x", "wg"}, {"g"}, {}, {}},
      {"act", "silu", {"g"}, {"ga"}, {}, {}},
      {"up", "linear", {"x", "wu"}, {"u"}, {}, {}},
      {"mul", "mul", {"u", "ga"}, {"y3"}, {}, {}},
  };
  g.outputs = {"y1", "y2", "y3"};
  validate(g);
  return g;
}

TEST_F(CpuFusion, EpiloguesMatchFloat64Reference) {
  const char* variants[] = {"linear.sgemm",  "linear.sgemv",          "linear.split_n",
                            "linear.onednn", "linear.onednn_split_n", "linear.onednn_packed"};
  for (const char* variant : variants) {
    const EnvGuard forced("RTSCOPE_CPU_FORCE_VARIANT", variant);
    for (const int64_t rows : {1, 3, 20}) {
      const Graph graph = epilogue_graph(rows);
      auto model = build(graph);
      auto config = runtime_config(*model, {{"kernel_specialization", "eager"}});
      const std::map<std::string, Tensor> inputs = {
          {"x", Tensor::random(DType::f32, {rows, 24}, 30 + rows)},
          {"z", Tensor::random(DType::f32, {rows, 40}, 40 + rows)}};
      const auto out = model->run(inputs);
      const auto expected = testing::reference_outputs(graph, inputs);
      for (const char* name : {"y1", "y2", "y3"}) {
        EXPECT_LE(reference::closeness(out.at(name), expected.at(name), 1e-5, 1e-5), 1.0)
            << variant << " rows " << rows << " " << name;
      }
      EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"), 3u) << variant;
      // Packed weights are a candidate from two rows on; the products onto
      // r (in place) and onto z (a new tensor) and the gated pair all ran
      // it.
      if (std::string(variant) == "linear.onednn_packed" && rows >= 2) {
        EXPECT_EQ(plugin_counter_or_zero(*model, "variant.linear.onednn_packed"), 4u) << rows;
      }
      // The sum over r lives in r's storage (the product accumulated onto
      // it), and nothing else is ever live beside it: the arena holds one
      // [rows, 40] f32 tensor (64-byte aligned) at its peak.
      const uint64_t one_tensor = (static_cast<uint64_t>(rows) * 40 * 4 + 63) / 64 * 64;
      EXPECT_EQ(plugin_counter_or_zero(*model, "planned_peak_bytes"), one_tensor) << variant;
    }
  }
}

// rope(x, pos) -> transpose to [B, H, S, D] -> a cache update, and the
// same rope to heads read by a product (not fused into a cache).
Graph rope_graph(int64_t batch, int64_t seq) {
  Graph g;
  g.name = "rope_kinds";
  g.inputs.push_back({"x", f32_value({batch, seq, 3, 8}), {}});
  g.inputs.push_back({"pos", {DType::i64, fixed_shape({1})}, {}});
  g.inputs.push_back({"cache", f32_value({batch, 3, 12, 8}), {}});
  g.nodes = {
      {"q_rope", "rope", {"x", "pos"}, {"q_rot"}, {{"base", 500.0}}, {}},
      {"q_heads", "transpose", {"q_rot"}, {"q"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}, {}},
      {"q_out", "scale", {"q"}, {"y"}, {{"factor", 2.0}}, {}},
      {"k_rope", "rope", {"x", "pos"}, {"k_rot"}, {{"base", 500.0}}, {}},
      {"k_heads", "transpose", {"k_rot"}, {"k"}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}, {}},
      {"write", "kv_cache_update", {"cache", "k", "pos"}, {"cache_next"}, {}, {}},
  };
  g.outputs = {"y", "cache_next"};
  validate(g);
  return g;
}

TEST_F(CpuFusion, RopeGroupsMatchFloat64Reference) {
  for (const char* capture : {"disabled", "whole_graph"}) {
    for (const auto& [batch, seq, pos] :
         {std::tuple<int64_t, int64_t, int64_t>{1, 1, 7}, {2, 1, 11}, {2, 4, 3}, {1, 3, 0}}) {
      const Graph graph = rope_graph(batch, seq);
      auto model = build(graph);
      auto config = runtime_config(*model, {{"graph_capture", capture}});
      const std::map<std::string, Tensor> inputs = {
          {"x", Tensor::random(DType::f32, {batch, seq, 3, 8}, 50 + seq)},
          {"pos", position_tensor(pos)},
          {"cache", Tensor::random(DType::f32, {batch, 3, 12, 8}, 60 + batch)}};
      for (int repeat = 0; repeat < 2; ++repeat) {  // a capture records, then replays
        const auto out = model->run(inputs);
        const auto expected = testing::reference_outputs(graph, inputs);
        for (const char* name : {"y", "cache_next"}) {
          EXPECT_LE(reference::closeness(out.at(name), expected.at(name), 1e-6, 1e-6), 1.0)
              << capture << " batch " << batch << " seq " << seq << " " << name;
        }
      }
      EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"), 2u);
    }
  }
}

TEST_F(CpuFusion, RopeIntoCacheNamesTheUpdateWhenPosDoesNotFit) {
  const Graph graph = rope_graph(1, 2);
  auto model = build(graph);
  const std::map<std::string, Tensor> inputs = {
      {"x", Tensor::random(DType::f32, {1, 2, 3, 8}, 5)},
      {"pos", position_tensor(11)},
      {"cache", Tensor::random(DType::f32, {1, 3, 12, 8}, 6)}};
  try {
    model->run(inputs);
    FAIL() << "pos 11 + 2 steps fits no 12-row cache";
  } catch (const std::exception& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("'write'"), std::string::npos) << text;
    EXPECT_NE(text.find("exceeds cache length 12"), std::string::npos) << text;
  }
}

// Greedy decoding of the default runner model: a 16-token prompt, then
// decode steps fed back; fused and unfused, eager and captured.
std::vector<int64_t> greedy_tokens(Model& model, int steps) {
  Tensor tokens = Tensor::random(DType::i64, {1, 16}, 123, 1023.0);
  std::vector<int64_t> generated;
  int64_t pos = 0;
  for (int step = 0; step <= steps; ++step) {
    const auto out = model.run({{"tokens", tokens}, {"pos", position_tensor(pos)}});
    pos += tokens.shape()[1];
    const Tensor& next = out.at("next_token");
    const int64_t token = next.data_as<int64_t>()[next.numel() - 1];
    generated.push_back(token);
    tokens = Tensor::empty(DType::i64, {1, 1});
    tokens.data_as<int64_t>()[0] = token;
  }
  return generated;
}

TEST_F(CpuFusion, OnAndOffGenerateTheSameTokens) {
  const DecoderParams params{
      .layers = 2, .d_model = 256, .heads = 4, .vocab = 1024, .max_seq = 256, .seed = 7};
  const Graph graph = build_decoder(params);
  for (const char* capture : {"disabled", "whole_graph"}) {
    std::vector<int64_t> tokens[2];
    for (const int fused : {0, 1}) {
      const EnvGuard fusion("RTSCOPE_CPU_FUSION", fused ? "1" : "0");
      auto model = build(graph);
      auto config =
          runtime_config(*model, {{"kernel_specialization", "eager"}, {"graph_capture", capture}});
      tokens[fused] = greedy_tokens(*model, 24);
      EXPECT_EQ(plugin_counter_or_zero(*model, "fused_groups"),
                fused ? kGroupsPerLayer * params.layers : 0u);
    }
    EXPECT_EQ(tokens[0], tokens[1]) << capture;
  }
}

}  // namespace
}  // namespace rtscope
