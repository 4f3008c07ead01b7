// The built-in Llama-style `decoder` template (DESIGN.md, "Graph IR").
#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <utility>

#include "graph_builder.hpp"
#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "rtscope/templates.hpp"
#include "template_params.hpp"
#include "template_size.hpp"

namespace rtscope {
namespace {

constexpr const char* kOrigin = "builtin:decoder";
// Norm gains vary around 1 (not exactly 1) so tests notice a gain applied
// to the wrong value.
constexpr double kGainScale = 0.1;

const TemplateParams kParams{kOrigin};

[[noreturn]] void fail(const std::string& message) { kParams.fail(message); }

void check_params(const DecoderParams& p) {
  for (const auto& [name, value] : {std::pair{"layers", p.layers}, std::pair{"d_model", p.d_model},
                                    std::pair{"heads", p.heads}, std::pair{"vocab", p.vocab},
                                    std::pair{"max_seq", p.max_seq}, std::pair{"batch", p.batch}}) {
    kParams.require_positive(name, value);
  }
  if (p.kv_heads < 0 || (p.kv_heads > 0 && p.heads % p.kv_heads != 0)) {
    fail(fmt::format("kv_heads ({}) must divide heads ({}), or be 0 for kv_heads = heads",
                     p.kv_heads, p.heads));
  }
  if (!(p.rope_theta > 0.0) || !std::isfinite(p.rope_theta)) {
    fail(fmt::format("rope_theta must be a finite number > 0; got {}", p.rope_theta));
  }
  if (!(p.norm_eps >= 0.0) || !std::isfinite(p.norm_eps)) {
    fail(fmt::format("norm_eps must be a finite number >= 0; got {}", p.norm_eps));
  }
  if (p.ffn < 0) fail(fmt::format("ffn must be >= 1 (or 0 for 4 * d_model); got {}", p.ffn));
  if (p.d_model % p.heads != 0) {
    fail(fmt::format("d_model ({}) must be divisible by heads ({})", p.d_model, p.heads));
  }
  if ((p.d_model / p.heads) % 2 != 0) {
    fail(
        fmt::format("head_dim = d_model / heads = {} must be even for rope; choose d_model and "
                    "heads accordingly",
                    p.d_model / p.heads));
  }
  kParams.require_float(p.dtype);
}

// Projection weights: uniform with scale 1/sqrt(fan_in) keeps activations
// of order one through each linear.
WeightInit projection(uint64_t seed, int64_t fan_in) {
  return seeded_init(seed, 1.0 / std::sqrt(static_cast<double>(fan_in)));
}

// Builds one decoder layer reading residual stream `x`; returns the new
// residual stream.
class LayerBuilder {
 public:
  LayerBuilder(GraphBuilder& g, const DecoderParams& p, int64_t ffn, int64_t layer)
      : g_(g),
        p_(p),
        ffn_(ffn),
        layer_(layer),
        head_dim_(p.d_model / p.heads),
        kv_heads_(p.kv_heads == 0 ? p.heads : p.kv_heads),
        prefix_(fmt::format("layers.{}.", layer)) {}

  std::string build(const std::string& x) {
    std::string h = attention_block(x);
    return ffn_block(h);
  }

 private:
  std::string n(const std::string& suffix) const { return prefix_ + suffix; }

  std::string weight(const std::string& suffix, const Shape& shape, WeightInit init) {
    g_.weight(n(suffix), p_.dtype, shape, init);
    return n(suffix);
  }

  std::string rmsnorm(const std::string& node, const std::string& x, const std::string& gain,
                      const std::string& out) {
    weight(gain, {p_.d_model}, seeded_init(p_.seed, kGainScale, 1.0));
    return g_.node(n(node), "rmsnorm", {x, n(gain)}, n(out), {{"eps", p_.norm_eps}});
  }

  std::string linear(const std::string& node, const std::string& x, const std::string& w,
                     int64_t in, int64_t out_dim, const std::string& out) {
    if (p_.out_in_weights) {
      weight(w, {out_dim, in}, projection(p_.seed, in));
      return g_.node(n(node), "matmul", {x, n(w)}, n(out), {{"transpose_b", int64_t{1}}});
    }
    weight(w, {in, out_dim}, projection(p_.seed, in));
    return g_.node(n(node), "linear", {x, n(w)}, n(out));
  }

  // [B, S, heads * Dh] -> [B, heads, S, Dh], with rope on the way for q and
  // k. K and V keep their kv_heads heads: attention is grouped-query.
  std::string to_heads(const std::string& t, const std::string& x, int64_t heads, bool rope) {
    std::string v = g_.node(n("attn." + t + "_split"), "reshape", {x}, n("attn." + t + "_bshd"),
                            {{"shape", std::vector<int64_t>{0, 0, heads, head_dim_}}});
    if (rope) {
      v = g_.node(n("attn." + t + "_rope"), "rope", {v, "pos"}, n("attn." + t + "_rot"),
                  {{"base", p_.rope_theta}});
    }
    return g_.node(n("attn." + t + "_to_heads"), "transpose", {v}, n("attn." + t + "_bhsd"),
                   {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  }

  // Writes `x` ([B, kv_heads, S, Dh]) into the layer's static cache at
  // `pos`; the updated cache is also the state's next value. The cache holds
  // kv_heads heads, each read by heads / kv_heads query heads (Hugging
  // Face's repeat_kv, without storing the repeat).
  std::string cache_write(const std::string& t, const std::string& x) {
    std::string cache = fmt::format("{}_cache_{}", t, layer_);
    std::string next = g_.node(n("attn." + t + "_cache_write"), "kv_cache_update",
                               {cache, x, "pos"}, n("attn." + t + "_cache_next"));
    g_.state(cache, p_.dtype, {p_.batch, kv_heads_, p_.max_seq, head_dim_}, next);
    return next;
  }

  std::string attention_block(const std::string& x) {
    const int64_t d = p_.d_model;
    const int64_t kv_dim = kv_heads_ * head_dim_;
    std::string normed = rmsnorm("attn.norm", x, "attn_norm", "attn.normed");
    std::string q = linear("attn.q_proj", normed, "attn.wq", d, d, "attn.q");
    std::string k = linear("attn.k_proj", normed, "attn.wk", d, kv_dim, "attn.k");
    std::string v = linear("attn.v_proj", normed, "attn.wv", d, kv_dim, "attn.v");
    q = to_heads("q", q, p_.heads, /*rope=*/true);
    k = cache_write("k", to_heads("k", k, kv_heads_, /*rope=*/true));
    v = cache_write("v", to_heads("v", v, kv_heads_, /*rope=*/false));
    std::string ctx = g_.node(n("attn.sdpa"), "attention", {q, k, v, "pos"}, n("attn.ctx_bhsd"));
    ctx = g_.node(n("attn.from_heads"), "transpose", {ctx}, n("attn.ctx_bshd"),
                  {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
    ctx = g_.node(n("attn.merge"), "reshape", {ctx}, n("attn.ctx"),
                  {{"shape", std::vector<int64_t>{0, 0, d}}});
    std::string out = linear("attn.o_proj", ctx, "attn.wo", d, d, "attn.out");
    return g_.node(n("attn.residual"), "add", {x, out}, n("h_attn"));
  }

  std::string ffn_block(const std::string& x) {
    const int64_t d = p_.d_model;
    std::string normed = rmsnorm("ffn.norm", x, "ffn_norm", "ffn.normed");
    std::string gate = linear("ffn.gate_proj", normed, "ffn.w_gate", d, ffn_, "ffn.gate");
    gate = g_.node(n("ffn.gate_act"), "silu", {gate}, n("ffn.gate_silu"));
    std::string up = linear("ffn.up_proj", normed, "ffn.w_up", d, ffn_, "ffn.up");
    std::string hidden = g_.node(n("ffn.gate_mul"), "mul", {gate, up}, n("ffn.hidden"));
    std::string out = linear("ffn.down_proj", hidden, "ffn.w_down", ffn_, d, "ffn.out");
    return g_.node(n("ffn.residual"), "add", {x, out}, n("h_out"));
  }

  GraphBuilder& g_;
  const DecoderParams& p_;
  int64_t ffn_;
  int64_t layer_;
  int64_t head_dim_;
  int64_t kv_heads_;
  std::string prefix_;
};

// Everything the model allocates, checked before a node is built.
void check_size(const DecoderParams& p, int64_t ffn) {
  const int64_t d = p.d_model;
  const int64_t kv_heads = p.kv_heads == 0 ? p.heads : p.kv_heads;
  const int64_t kv_dim = kv_heads * (d / p.heads);
  TemplateSize size(kOrigin, p.dtype);
  size.add("embed", {p.vocab, d});
  if (!p.tied_embeddings) size.add("lm_head", {d, p.vocab});
  size.add("final_norm", {d});
  for (const char* name : {"layers.*.attn_norm", "layers.*.ffn_norm"})
    size.add(name, {d}, p.layers);
  for (const char* name : {"layers.*.attn.wq", "layers.*.attn.wo"})
    size.add(name, {d, d}, p.layers);
  for (const char* name : {"layers.*.attn.wk", "layers.*.attn.wv"}) {
    size.add(name, {d, kv_dim}, p.layers);
  }
  size.add("layers.*.ffn.w_gate", {d, ffn}, p.layers);
  size.add("layers.*.ffn.w_up", {d, ffn}, p.layers);
  size.add("layers.*.ffn.w_down", {ffn, d}, p.layers);
  for (const char* name : {"k_cache_*", "v_cache_*"}) {
    size.add(name, {p.batch, kv_heads, p.max_seq, d / p.heads}, p.layers);
  }
  size.check();
}

}  // namespace

Graph build_decoder(const DecoderParams& params) {
  check_params(params);
  const DecoderParams& p = params;
  const std::optional<int64_t> default_ffn = checked::mul<int64_t>(4, p.d_model);
  if (p.ffn == 0 && !default_ffn) {
    fail(fmt::format("ffn = 4 * d_model overflows for d_model {}; use a smaller d_model",
                     p.d_model));
  }
  const int64_t ffn = p.ffn == 0 ? *default_ffn : p.ffn;
  check_size(p, ffn);
  GraphBuilder g("decoder", kOrigin);
  // Decode steps (seq 1) dominate generation, so engines are tuned for them.
  g.symbol("seq", SymbolRange{1, 1, p.max_seq});
  g.input("tokens", DType::i64, {Dim::fixed(p.batch), Dim::named("seq")});
  if (p.batch == 1) {
    g.input("pos", DType::i64, {Dim::fixed(1)});
  } else {
    // One position per stream (batch row), or one shared by all of them.
    g.symbol("streams", SymbolRange{1, p.batch, p.batch});
    g.input("pos", DType::i64, {Dim::named("streams")});
  }

  g.weight("embed", p.dtype, {p.vocab, p.d_model}, seeded_init(p.seed, 1.0));
  std::string x = g.node("embed_tokens", "embedding", {"embed", "tokens"}, "x");
  for (int64_t layer = 0; layer < p.layers; ++layer) {
    x = LayerBuilder(g, p, ffn, layer).build(x);
  }
  g.weight("final_norm", p.dtype, {p.d_model}, seeded_init(p.seed, kGainScale, 1.0));
  x = g.node("final_norm.apply", "rmsnorm", {x, "final_norm"}, "x_final", {{"eps", p.norm_eps}});
  if (p.tied_embeddings) {
    // The table is [vocab, d_model]: logits = x · embedᵀ.
    g.node("lm_head.proj", "matmul", {x, "embed"}, "logits", {{"transpose_b", int64_t{1}}});
  } else if (p.out_in_weights) {
    g.weight("lm_head", p.dtype, {p.vocab, p.d_model}, projection(p.seed, p.d_model));
    g.node("lm_head.proj", "matmul", {x, "lm_head"}, "logits", {{"transpose_b", int64_t{1}}});
  } else {
    g.weight("lm_head", p.dtype, {p.d_model, p.vocab}, projection(p.seed, p.d_model));
    g.node("lm_head.proj", "linear", {x, "lm_head"}, "logits");
  }
  g.node("sample_argmax", "argmax", {"logits"}, "next_token", {{"axis", int64_t{-1}}});
  g.output("logits");
  g.output("next_token");
  return g.finish();
}

}  // namespace rtscope
