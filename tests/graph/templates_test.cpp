// Built-in templates: the decoder and mlp build valid graphs with the
// documented inputs, outputs, weights and states; bad parameters fail with
// messages naming the parameter and the valid choices.
#include "rtscope/templates.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"
#include "support/error_of.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;

using testing::error_of;

const Weight& weight(const Graph& g, const std::string& name) {
  for (const Weight& w : g.weights) {
    if (w.info.name == name) return w;
  }
  throw std::runtime_error("no weight " + name);
}

const StateBuffer& state(const Graph& g, const std::string& name) {
  for (const StateBuffer& s : g.states) {
    if (s.info.name == name) return s;
  }
  throw std::runtime_error("no state " + name);
}

const Node& producer(const Graph& g, const std::string& value) {
  for (const Node& n : g.nodes) {
    for (const std::string& out : n.outputs) {
      if (out == value) return n;
    }
  }
  throw std::runtime_error("no producer of " + value);
}

TEST(DecoderTemplate, DefaultShapesAndCounts) {
  DecoderParams p;  // layers 2, d_model 256, heads 4, vocab 1024, max_seq 256
  Graph g = build_decoder(p);
  EXPECT_EQ(g.name, "decoder");
  ASSERT_EQ(g.inputs.size(), 2u);
  EXPECT_EQ(g.type_of("tokens").str(), "i64[1,seq]");
  EXPECT_EQ(g.type_of("pos").str(), "i64[1]");
  EXPECT_EQ(g.symbols.at("seq").min, 1);
  EXPECT_EQ(g.symbols.at("seq").max, 256);
  EXPECT_EQ(g.outputs, (std::vector<std::string>{"logits", "next_token"}));
  EXPECT_EQ(g.type_of("logits").str(), "f32[1,seq,1024]");
  EXPECT_EQ(g.type_of("next_token").str(), "i64[1,seq]");

  // Per layer: 19 attention nodes and 7 feed-forward nodes; plus embedding,
  // final norm, LM head and argmax.
  EXPECT_EQ(g.nodes.size(), 2u * 26u + 4u);
  // Per layer: 2 norm gains, 4 attention and 3 feed-forward projections;
  // plus embedding, final norm gain and LM head.
  EXPECT_EQ(g.weights.size(), 2u * 9u + 3u);
  ASSERT_EQ(g.states.size(), 4u);
  for (const char* name : {"k_cache_0", "v_cache_0", "k_cache_1", "v_cache_1"}) {
    const StateBuffer& s = state(g, name);
    EXPECT_EQ(s.info.type.str(), "f32[1,4,256,64]") << name;
    const Node& update = producer(g, s.update_from);
    EXPECT_EQ(update.op, "kv_cache_update") << name;
    EXPECT_EQ(update.inputs.at(0), name);
    EXPECT_EQ(find_op(update.op)->aliases_input, 0);
  }

  EXPECT_EQ(weight(g, "embed").info.type.str(), "f32[1024,256]");
  EXPECT_EQ(weight(g, "layers.0.attn.wq").info.type.str(), "f32[256,256]");
  EXPECT_EQ(weight(g, "layers.1.ffn.w_gate").info.type.str(), "f32[256,1024]");
  EXPECT_EQ(weight(g, "layers.1.ffn.w_down").info.type.str(), "f32[1024,256]");
  EXPECT_EQ(weight(g, "lm_head").info.type.str(), "f32[256,1024]");
  const Weight& gain = weight(g, "layers.0.attn_norm");
  EXPECT_EQ(gain.info.type.str(), "f32[256]");
  EXPECT_DOUBLE_EQ(gain.init.offset, 1.0);
  EXPECT_GT(gain.init.scale, 0.0);
  EXPECT_DOUBLE_EQ(weight(g, "layers.0.attn.wq").init.scale, 1.0 / 16.0);
  EXPECT_DOUBLE_EQ(weight(g, "layers.0.ffn.w_down").init.scale, 1.0 / 32.0);
}

TEST(DecoderTemplate, LayerStructure) {
  DecoderParams p{
      .layers = 1, .d_model = 64, .heads = 2, .ffn = 96, .vocab = 100, .max_seq = 32, .batch = 3};
  Graph g = build_decoder(p);
  EXPECT_EQ(g.type_of("logits").str(), "f32[3,seq,100]");
  EXPECT_EQ(g.type_of("k_cache_0").str(), "f32[3,2,32,32]");
  EXPECT_EQ(g.type_of("layers.0.attn.q_rot").str(), "f32[3,seq,2,32]");
  EXPECT_EQ(g.type_of("layers.0.ffn.hidden").str(), "f32[3,seq,96]");

  const Node& rope = producer(g, "layers.0.attn.q_rot");
  EXPECT_EQ(rope.op, "rope");
  EXPECT_DOUBLE_EQ(std::get<double>(rope.attrs.at("base")), 10000.0);
  const Node& attn = producer(g, "layers.0.attn.ctx_bhsd");
  EXPECT_EQ(attn.op, "attention");
  // Attention reads the caches after this step's keys and values are written.
  EXPECT_EQ(attn.inputs.at(1), state(g, "k_cache_0").update_from);
  EXPECT_EQ(attn.inputs.at(2), state(g, "v_cache_0").update_from);
  EXPECT_EQ(attn.inputs.at(3), "pos");
  EXPECT_DOUBLE_EQ(std::get<double>(producer(g, "x_final").attrs.at("eps")), 1e-5);
  EXPECT_EQ(producer(g, "next_token").op, "argmax");

  // Every location names the template; node and value names do not clash.
  std::set<std::string> names;
  for (const Node& n : g.nodes) {
    EXPECT_EQ(n.loc.file, "builtin:decoder");
    EXPECT_TRUE(names.insert(n.name).second) << n.name;
  }
  for (const Weight& w : g.weights) EXPECT_EQ(w.info.loc.file, "builtin:decoder");
  for (const auto& [value, type] : g.values) EXPECT_TRUE(names.insert(value).second) << value;
}

TEST(DecoderTemplate, Float16) {
  DecoderParams p;
  p.layers = 1;
  p.dtype = DType::f16;
  Graph g = build_decoder(p);
  EXPECT_EQ(g.type_of("logits").str(), "f16[1,seq,1024]");
  EXPECT_EQ(g.type_of("next_token").str(), "i64[1,seq]");
  EXPECT_EQ(g.type_of("k_cache_0").dtype, DType::f16);
  for (const Weight& w : g.weights) EXPECT_EQ(w.info.type.dtype, DType::f16) << w.info.name;
}

TEST(DecoderTemplate, BadParams) {
  DecoderParams p;
  p.d_model = 250;
  EXPECT_EQ(error_of([&] { build_decoder(p); }),
            "builtin:decoder: d_model (250) must be divisible by heads (4)");
  p.d_model = 12;
  p.heads = 4;
  EXPECT_EQ(error_of([&] { build_decoder(p); }),
            "builtin:decoder: head_dim = d_model / heads = 3 must be even for rope; choose "
            "d_model and heads accordingly");
  p = DecoderParams{};
  p.layers = 0;
  EXPECT_EQ(error_of([&] { build_decoder(p); }), "builtin:decoder: layers must be >= 1; got 0");
  p = DecoderParams{};
  p.dtype = DType::i32;
  EXPECT_EQ(error_of([&] { build_decoder(p); }),
            "builtin:decoder: dtype must be f32 or f16; got i32");
}

TEST(MlpTemplate, ShapesAndCounts) {
  MlpParams p{.layers = 3, .d_in = 32, .hidden = 48, .d_out = 8, .max_batch = 16};
  Graph g = build_mlp(p);
  EXPECT_EQ(g.type_of("x").str(), "f32[batch,32]");
  EXPECT_EQ(g.type_of("y").str(), "f32[batch,8]");
  EXPECT_EQ(g.symbols.at("batch").max, 16);
  EXPECT_EQ(g.weights.size(), 3u);
  EXPECT_EQ(g.nodes.size(), 5u);  // 3 linear + 2 relu (none after the last)
  EXPECT_EQ(weight(g, "layers.0.weight").info.type.str(), "f32[32,48]");
  EXPECT_EQ(weight(g, "layers.2.weight").info.type.str(), "f32[48,8]");
  EXPECT_EQ(producer(g, "y").op, "linear");
  EXPECT_EQ(g.nodes.front().loc.file, "builtin:mlp");

  p.layers = 1;
  p.dtype = DType::f16;
  Graph single = build_mlp(p);
  EXPECT_EQ(single.nodes.size(), 1u);
  EXPECT_EQ(single.type_of("y").str(), "f16[batch,8]");
}

TEST(MlpTemplate, BadParams) {
  MlpParams p;
  p.hidden = -1;
  EXPECT_EQ(error_of([&] { build_mlp(p); }), "builtin:mlp: hidden must be >= 1; got -1");
}

TEST(BuildTemplate, ParsesStringParams) {
  Graph g = build_template("decoder", {{"layers", "1"},
                                       {"d_model", "64"},
                                       {"heads", "4"},
                                       {"vocab", "50"},
                                       {"max_seq", "16"},
                                       {"batch", "2"},
                                       {"ffn", "80"},
                                       {"dtype", "f16"},
                                       {"seed", "18446744073709551615"}});
  EXPECT_EQ(g.type_of("logits").str(), "f16[2,seq,50]");
  EXPECT_EQ(g.type_of("layers.0.ffn.hidden").str(), "f16[2,seq,80]");
  EXPECT_EQ(g.weights.front().init.seed, 18446744073709551615u);

  Graph m = build_template("mlp", {{"layers", "2"},
                                   {"d_in", "8"},
                                   {"hidden", "16"},
                                   {"d_out", "4"},
                                   {"max_batch", "5"},
                                   {"dtype", "f32"},
                                   {"seed", "3"}});
  EXPECT_EQ(m.type_of("y").str(), "f32[batch,4]");
  EXPECT_EQ(m.symbols.at("batch").max, 5);
}

TEST(BuildTemplate, Errors) {
  const struct {
    const char* name;
    std::map<std::string, std::string> params;
    const char* message;
  } cases[] = {
      {"gpt", {}, "unknown template 'gpt'; valid templates: mlp, decoder"},
      {"decoder",
       {{"layer", "2"}},
       "template 'decoder': unknown parameter 'layer'; valid parameters: layers, d_model, heads, "
       "kv_heads, ffn, vocab, max_seq, batch, rope_theta, norm_eps, tied_embeddings, dtype, seed"},
      {"mlp",
       {{"heads", "2"}},
       "template 'mlp': unknown parameter 'heads'; valid parameters: layers, d_in, hidden, d_out, "
       "max_batch, dtype, seed"},
      {"decoder",
       {{"d_model", "2x"}},
       "template 'decoder': parameter 'd_model' must be an integer; got '2x'"},
      {"mlp",
       {{"dtype", "bf16"}},
       "template 'mlp': parameter 'dtype' must be one of f32, f16; got 'bf16'"},
      {"mlp",
       {{"seed", "-1"}},
       "template 'mlp': parameter 'seed' must be a non-negative integer; got '-1'"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(error_of([&] { build_template(c.name, c.params); }), c.message);
  }
  EXPECT_THAT(error_of([] {
                build_template("decoder", {{"heads", "3"}});
              }),
              HasSubstr("d_model (256) must be divisible by heads (3)"));
}

}  // namespace
}  // namespace rtscope
