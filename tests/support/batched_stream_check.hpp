// Batched decode checks every backend's decoder must pass: B streams in one
// model (DecoderParams::batch = B), each with its own prompt and its own
// position (pos [B]), compared with the float64 reference step by step, and
// each stream's tokens equal to the same stream decoded alone (batch 1).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"

namespace rtscope::testing {

// i64 [values.size()]: one position per stream.
inline Tensor positions_tensor(const std::vector<int64_t>& values) {
  Tensor t = Tensor::empty(DType::i64, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data_as<int64_t>());
  return t;
}

// Streams of a batched check: stream b's prompt is seeded with 100 + b and
// starts at position 3·b, so that both tokens and positions differ.
struct BatchedStreams {
  int64_t batch = 1;
  int64_t prompt = 4;
  int64_t steps = 3;  // decode steps after the prompt
  std::vector<int64_t> starts() const {
    std::vector<int64_t> values;
    for (int64_t b = 0; b < batch; ++b) values.push_back(3 * b);
    return values;
  }
  Tensor prompt_of(int64_t first, int64_t rows, int64_t vocab) const {
    Tensor t = Tensor::empty(DType::i64, {rows, prompt});
    for (int64_t r = 0; r < rows; ++r) {
      const Tensor row =
          Tensor::random(DType::i64, {1, prompt}, 100 + first + r, double(vocab - 1));
      std::copy_n(row.data_as<int64_t>(), prompt, t.data_as<int64_t>() + r * prompt);
    }
    return t;
  }
};

// The last column of next_token, one token per row.
inline Tensor last_column(const Tensor& next_token) {
  const Tensor host = next_token.on_device() ? next_token.to_host() : next_token;
  const int64_t rows = host.shape()[0], cols = host.shape()[1];
  Tensor column = Tensor::empty(DType::i64, {rows, 1});
  for (int64_t r = 0; r < rows; ++r) {
    column.data_as<int64_t>()[r] = host.data_as<int64_t>()[r * cols + cols - 1];
  }
  return column;
}

// Runs the prompt and `streams.steps` fed-back decode steps of streams
// [first, first + rows) on `model` (built with batch `rows`), each at its
// own position; returns each step's generated tokens, [step][row]. With
// `tol` > 0, logits and every cache are compared with the float64
// reference after each step, and the caches must stay in place.
inline std::vector<std::vector<int64_t>> run_batched_streams(Model& model,
                                                             const DecoderParams& params,
                                                             const BatchedStreams& streams,
                                                             int64_t first, int64_t rows,
                                                             double tol) {
  std::map<std::string, reference::RefTensor> ref_states;
  const void* cache_storage = model.state().at("k_cache_0").data();
  std::vector<int64_t> positions;
  const std::vector<int64_t> starts = streams.starts();
  for (int64_t r = 0; r < rows; ++r) positions.push_back(starts[first + r]);
  Tensor tokens = streams.prompt_of(first, rows, params.vocab);
  std::vector<std::vector<int64_t>> generated;
  for (int64_t step = 0; step <= streams.steps; ++step) {
    const std::map<std::string, Tensor> inputs = {{"tokens", tokens},
                                                  {"pos", positions_tensor(positions)}};
    const auto out = model.run(inputs);
    if (tol > 0) {
      expect_step_matches_reference(model, inputs, out, ref_states, cache_storage, tol, step);
    }
    for (int64_t& p : positions) p += tokens.shape()[1];
    tokens = last_column(out.at("next_token"));
    generated.emplace_back(tokens.data_as<int64_t>(), tokens.data_as<int64_t>() + rows);
  }
  return generated;
}

}  // namespace rtscope::testing
