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
  int64_t ffn = 0;  // 0 = 4 * d_model
  int64_t vocab = 1024;
  int64_t max_seq = 256;
  int64_t batch = 1;
  DType dtype = DType::f32;
  uint64_t seed = 0;
};

// Inputs: tokens i64 [batch, seq], pos i64 [1] (position of tokens[:,0]).
// Outputs: logits [batch, seq, vocab], next_token i64 [batch, seq].
// States: k_cache_<l>, v_cache_<l> [batch, heads, max_seq, d_model/heads].
Graph build_decoder(const DecoderParams& params);

// Builds a template by name from string parameters (as written in YAML).
// Throws InputError naming an unknown template or parameter and listing
// the valid ones.
Graph build_template(const std::string& name, const std::map<std::string, std::string>& params);

}  // namespace rtscope
