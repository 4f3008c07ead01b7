// Streams a prompt and fed-back decode steps through a model loaded from a
// tiny Llama checkpoint and compares every position's logits (and the
// greedy token where the reference's choice is clear) with LlamaReference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "rtscope/model.hpp"
#include "support/tiny_llama.hpp"

namespace rtscope::testing {

// Largest |got - want| / (tol + tol * |want|) over the logits; <= 1 passes.
inline double logits_error(const double* got, const std::vector<double>& want, double tol) {
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]) / (tol + tol * std::abs(want[i])));
  }
  return worst;
}

// A 6-token prompt, then `steps` single tokens fed back from next_token.
inline void expect_checkpoint_stream_matches(Model& model, const TinyLlama& config,
                                             const std::vector<NamedTensor>& tensors, double tol,
                                             int steps = 5) {
  LlamaReference reference(config, tensors);
  const Tensor prompt = Tensor::random(DType::i64, {1, 6}, 29, double(config.vocab - 1));
  Tensor tokens = prompt;
  const void* cache = model.state().at("k_cache_0").data();
  int64_t pos = 0;
  for (int step = 0; step <= steps; ++step) {
    Tensor position = Tensor::empty(DType::i64, {1});
    position.data_as<int64_t>()[0] = pos;
    const auto out = model.run({{"tokens", tokens}, {"pos", position}});
    const std::vector<double> logits = out.at("logits").to_doubles();
    const int64_t seq = tokens.shape()[1];
    ASSERT_EQ(logits.size(), static_cast<std::size_t>(seq * config.vocab));
    const std::vector<double> next = out.at("next_token").to_doubles();
    for (int64_t s = 0; s < seq; ++s) {
      const std::vector<double> want = reference.step(tokens.data_as<int64_t>()[s]);
      const double error = logits_error(logits.data() + s * config.vocab, want, tol);
      EXPECT_LE(error, 1.0) << "step " << step << ", position " << pos + s << ": logits off by "
                            << error << "x the tolerance " << tol;
      // The greedy token must agree wherever the reference's top two are
      // further apart than the tolerance could blur.
      std::vector<double> sorted = want;
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
      if (sorted[0] - sorted[1] > 8 * tol * (1 + std::abs(sorted[0]))) {
        const auto best = std::max_element(want.begin(), want.end()) - want.begin();
        EXPECT_EQ(static_cast<int64_t>(next[static_cast<std::size_t>(s)]), best)
            << "greedy token at position " << pos + s;
      }
    }
    EXPECT_EQ(model.state().at("k_cache_0").data(), cache) << "KV caches must stay in place";
    pos += seq;
    tokens = Tensor::empty(DType::i64, {1, 1});
    tokens.data_as<int64_t>()[0] = static_cast<int64_t>(next.back());
  }
}

}  // namespace rtscope::testing
