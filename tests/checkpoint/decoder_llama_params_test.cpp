// The decoder template's Llama parameters without a checkpoint: kv_heads,
// rope_theta, norm_eps and tied_embeddings from YAML-style parameters, the
// errors for bad values, and seeded GQA / tied decoders streamed on cpu
// against the float64 reference of their graph.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;

std::string build_error(const std::map<std::string, std::string>& params) {
  try {
    build_template("decoder", params);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "the parameters were accepted";
  return "";
}

TEST(DecoderLlamaParams, YamlParametersReachTheGraph) {
  const Graph g = build_template("decoder", {{"d_model", "64"},
                                             {"heads", "8"},
                                             {"kv_heads", "2"},
                                             {"rope_theta", "500000"},
                                             {"norm_eps", "1e-6"},
                                             {"tied_embeddings", "true"}});
  for (const Weight& w : g.weights) {
    EXPECT_NE(w.info.name, "lm_head") << "tied embeddings have no LM head weight";
    if (w.info.name == "layers.0.attn.wk") {
      EXPECT_EQ(w.info.type.str(), "f32[64,16]");
    }
  }
  for (const Node& node : g.nodes) {
    if (node.op == "rope") {
      EXPECT_EQ(std::get<double>(node.attrs.at("base")), 500000.0);
    } else if (node.op == "rmsnorm") {
      EXPECT_EQ(std::get<double>(node.attrs.at("eps")), 1e-6);
    }
  }
  // The caches hold the 2 KV heads (grouped-query attention reads each for
  // 4 query heads), not a repeat for every query head.
  EXPECT_EQ(g.states.front().info.type.str(), "f32[1,2,256,8]");
}

TEST(DecoderLlamaParams, BadValuesAreNamed) {
  EXPECT_THAT(build_error({{"heads", "4"}, {"kv_heads", "3"}}), HasSubstr("kv_heads (3)"));
  EXPECT_THAT(build_error({{"rope_theta", "0"}}), HasSubstr("rope_theta"));
  EXPECT_THAT(build_error({{"rope_theta", "x"}}), HasSubstr("must be a number"));
  EXPECT_THAT(build_error({{"norm_eps", "-1"}}), HasSubstr("norm_eps"));
  EXPECT_THAT(build_error({{"tied_embeddings", "yes"}}), HasSubstr("true or false"));
}

class DecoderLlamaStream : public ::testing::TestWithParam<DType> {
 protected:
  // Builds `params` on the cpu plugin and checks its token stream.
  static void expect_cpu_stream_matches_reference(const DecoderParams& params) {
    PluginRegistry registry;
    registry.load({.name = "cpu"});
    auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
    testing::expect_stream_matches_reference(*model, params);
  }
};

TEST_P(DecoderLlamaStream, GroupedTiedDecoderMatchesReference) {
  DecoderParams params = testing::small_decoder_params(GetParam());
  params.kv_heads = 2;
  params.tied_embeddings = true;
  params.rope_theta = 500.0;
  params.norm_eps = 1e-6;
  expect_cpu_stream_matches_reference(params);
}

TEST_P(DecoderLlamaStream, OutInWeightsMatchReference) {
  DecoderParams params = testing::small_decoder_params(GetParam());
  params.kv_heads = 1;
  params.out_in_weights = true;
  expect_cpu_stream_matches_reference(params);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DecoderLlamaStream, ::testing::Values(DType::f32, DType::f16),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace rtscope
