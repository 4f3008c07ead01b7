// Built-in model templates built in C++: `mlp` and a Llama-style `decoder`.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "rtscope/graph.hpp"

namespace rtscope {

struct MlpParams {
  int64_t layers = 2;
  int64_t d_in = 256;
  int64_t hidden = 1024;
  int64_t d_out = 256;
  int64_t max_batch = 64;
  DType dtype = DType::f32;
  uint64_t seed = 0;
};

// Inputs: x [batch, d_in]. Output: y [batch, d_out].
Graph build_mlp(const MlpParams& params);

struct DecoderParams {
  int64_t layers = 2;
  int64_t d_model = 256;
  int64_t heads = 4;
  // Key/value heads; 0 = heads. Fewer (a divisor of heads) is grouped-query
  // attention: each K/V head serves heads / kv_heads query heads.
  int64_t kv_heads = 0;
  int64_t ffn = 0;  // 0 = 4 * d_model
  int64_t vocab = 1024;
  int64_t max_seq = 256;
  int64_t batch = 1;
  DType dtype = DType::f32;
  uint64_t seed = 0;
  double rope_theta = 10000.0;  // RoPE base
  double norm_eps = 1e-5;       // RMSNorm epsilon
  // The LM head reads the embedding table (no lm_head weight).
  bool tied_embeddings = false;
  // Projection weights and the LM head stored [out, in] as in Hugging Face
  // checkpoints (matmul with transpose_b) rather than [in, out] (linear).
  bool out_in_weights = false;
};

// Inputs: tokens i64 [batch, seq], pos i64 [1] (position of tokens[:,0]).
// Outputs: logits [batch, seq, vocab], next_token i64 [batch, seq].
// States: k_cache_<l>, v_cache_<l> [batch, kv_heads, max_seq, d_model/heads]
// (grouped-query attention reads each K/V head for heads / kv_heads query
// heads, so the caches hold kv_heads heads, never a repeat).
// Weights: embed [vocab, d_model]; per layer layers.<l>.{attn_norm,
// ffn_norm} [d_model], layers.<l>.attn.{wq, wk, wv, wo} and
// layers.<l>.ffn.{w_gate, w_up, w_down}; final_norm [d_model]; lm_head
// unless tied_embeddings. Projections are [in, out], or [out, in] with
// out_in_weights (wk, wv: kv_heads * head_dim outputs).
Graph build_decoder(const DecoderParams& params);

// Builds a template by name from string parameters (as written in YAML).
// Throws InputError naming an unknown template or parameter and listing
// the valid ones.
Graph build_template(const std::string& name, const std::map<std::string, std::string>& params);

// The decoder's parameters from strings, as build_template("decoder", ...)
// reads them (the same errors).
DecoderParams decoder_params(const std::map<std::string, std::string>& params);

}  // namespace rtscope
