// The step-by-step check every backend's decoder must pass: stream a
// 5-token prompt and 4 fed-back decode steps, comparing logits and every KV
// cache with the float64 reference after each step, and checking that the
// caches are updated in place.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"
#include "support/small_models.hpp"

namespace rtscope::testing {

// One step of `model` on `inputs`, which gave `out`, against the float64
// reference continuing from `ref_states` (advanced here): the logits and
// every state within `tol`, and the KV cache still at `cache_storage`.
inline void expect_step_matches_reference(Model& model, const std::map<std::string, Tensor>& inputs,
                                          const std::map<std::string, Tensor>& out,
                                          std::map<std::string, reference::RefTensor>& ref_states,
                                          const void* cache_storage, double tol, int64_t step) {
  std::map<std::string, reference::RefTensor> ref_inputs;
  for (const auto& [name, t] : inputs) ref_inputs[name] = reference::RefTensor::from(t);
  const auto expected = reference::run_graph(model.graph(), ref_inputs, ref_states);
  const double worst = reference::closeness(out.at("logits"), expected.at("logits"), tol, tol);
  EXPECT_LE(worst, 1.0) << "step " << step << ": logits off by " << worst << "x tolerance";
  for (const auto& [name, state] : model.state()) {
    EXPECT_LE(reference::closeness(state, ref_states.at(name), tol, tol), 1.0)
        << "state " << name << " at step " << step;
  }
  EXPECT_EQ(model.state().at("k_cache_0").data(), cache_storage)
      << "the KV cache must be updated in place";
}

// Runs 5 steps (the prompt, then 4 single tokens) on `model`, built from
// small_decoder_params(dtype).
inline void expect_stream_matches_reference(Model& model, const DecoderParams& params) {
  const double tol = params.dtype == DType::f16 ? 3e-2 : 1e-4;
  std::map<std::string, reference::RefTensor> ref_states;
  const void* cache_storage = model.state().at("k_cache_0").data();
  Tensor tokens = Tensor::random(DType::i64, {1, 5}, 77, double(params.vocab - 1));
  int64_t pos = 0;
  for (int step = 0; step < 5; ++step) {
    const std::map<std::string, Tensor> inputs = {{"tokens", tokens},
                                                  {"pos", position_tensor(pos)}};
    const auto out = model.run(inputs);
    EXPECT_EQ(out.at("logits").shape(), (Shape{1, tokens.shape()[1], params.vocab}));
    expect_step_matches_reference(model, inputs, out, ref_states, cache_storage, tol, step);

    // Feed back the predicted last token, one position at a time.
    pos += tokens.shape()[1];
    const Tensor& next = out.at("next_token");
    Tensor fed = Tensor::empty(DType::i64, {1, 1});
    fed.data_as<int64_t>()[0] = next.data_as<int64_t>()[next.numel() - 1];
    tokens = fed;
  }
}

}  // namespace rtscope::testing
