// The built-in decoder with grouped-query attention (kv_heads < heads)
// against its multi-head twin: the same seeded weights, with the twin's K
// and V projection columns repeated per query head (head h gets K/V head
// h / (heads / kv_heads), what Hugging Face's repeat_kv computes), so the
// twin is the decoder as it ran with repeated caches. Both stream the same
// prompt and fed-back tokens: logits agree, tokens are equal, and the
// grouped decoder's KV caches are heads / kv_heads times smaller.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/small_models.hpp"

namespace rtscope::testing {

// A [rows, kv_heads · head_dim] projection with each head's columns
// repeated `group` times: [rows, kv_heads · group · head_dim].
inline Tensor repeat_head_columns(const Tensor& w, int64_t head_dim, int64_t group) {
  const int64_t rows = w.shape()[0];
  const int64_t kv_cols = w.shape()[1];
  const std::size_t element = dtype_size(w.dtype());
  Tensor out = Tensor::empty(w.dtype(), {rows, kv_cols * group});
  const auto* src = static_cast<const std::byte*>(w.data());
  auto* dst = static_cast<std::byte*>(out.data());
  const std::size_t head_bytes = static_cast<std::size_t>(head_dim) * element;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < kv_cols / head_dim * group; ++h) {
      std::memcpy(dst + (static_cast<std::size_t>(r * kv_cols * group + h * head_dim)) * element,
                  src + (static_cast<std::size_t>(r * kv_cols + (h / group) * head_dim)) * element,
                  head_bytes);
    }
  }
  return out;
}

// The multi-head decoder computing what the grouped `params` computes.
inline Graph repeated_kv_twin(const DecoderParams& params) {
  DecoderParams twin_params = params;
  twin_params.kv_heads = 0;
  Graph twin = build_decoder(twin_params);
  const Graph grouped = build_decoder(params);
  const int64_t head_dim = params.d_model / params.heads;
  const int64_t group = params.heads / params.kv_heads;
  for (Weight& w : twin.weights) {
    const std::string& name = w.info.name;
    if (name.ends_with(".attn.wk") || name.ends_with(".attn.wv")) {
      for (const Weight& g : grouped.weights) {
        if (g.info.name != name) continue;
        w.init = WeightInit{};
        w.init.kind = WeightInit::Kind::tensor;
        w.init.data = repeat_head_columns(materialize_weight(g), head_dim, group);
      }
    }
  }
  return twin;
}

inline uint64_t state_bytes(const Model& model) {
  uint64_t bytes = 0;
  for (const auto& [name, tensor] : model.state()) bytes += tensor.size_bytes();
  return bytes;
}

// Streams a 5-token prompt and 4 fed-back steps through the grouped decoder
// and its twin on `backend` (eager or captured) and compares them.
inline void expect_grouped_decoder_matches_twin(PluginRegistry& registry,
                                                const std::string& backend,
                                                const DecoderParams& params, bool capture) {
  ASSERT_GT(params.kv_heads, 0);
  const int64_t group = params.heads / params.kv_heads;
  auto grouped = Model::build(build_decoder(params), registry, {.backends = {backend}});
  auto twin = Model::build(repeated_kv_twin(params), registry, {.backends = {backend}});
  const int64_t head_dim = params.d_model / params.heads;
  for (const auto& [name, cache] : grouped->state()) {
    EXPECT_EQ(cache.shape(), (Shape{params.batch, params.kv_heads, params.max_seq, head_dim}))
        << name;
  }
  EXPECT_EQ(state_bytes(*twin), state_bytes(*grouped) * static_cast<uint64_t>(group))
      << "the KV caches hold kv_heads heads, not heads";
  std::optional<RuntimeConfigScope> captures;
  if (capture) captures.emplace(graph_capture({*grouped, *twin}));

  const double tol = params.dtype == DType::f16 ? 3e-2 : 1e-4;
  Tensor tokens = Tensor::random(DType::i64, {1, 5}, 77, double(params.vocab - 1));
  int64_t pos = 0;
  for (int step = 0; step < 5; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const std::map<std::string, Tensor> inputs = {{"tokens", tokens},
                                                  {"pos", position_tensor(pos)}};
    const auto got = grouped->run(inputs);
    const auto want = twin->run(inputs);
    EXPECT_LE(
        reference::closeness(got.at("logits").to_host(),
                             reference::RefTensor::from(want.at("logits").to_host()), tol, tol),
        1.0);
    const Tensor next = got.at("next_token").to_host();
    const Tensor twin_next = want.at("next_token").to_host();
    ASSERT_EQ(next.numel(), twin_next.numel());
    for (int64_t i = 0; i < next.numel(); ++i) {
      EXPECT_EQ(next.data_as<int64_t>()[i], twin_next.data_as<int64_t>()[i]) << "token " << i;
    }
    pos += tokens.shape()[1];
    Tensor fed = Tensor::empty(DType::i64, {1, 1});
    fed.data_as<int64_t>()[0] = next.data_as<int64_t>()[next.numel() - 1];
    tokens = fed;
  }
}

}  // namespace rtscope::testing
