// Small models and inputs the test areas share: a decoder small enough to
// check against the float64 reference step by step, and the `pos` input of
// a decoder step.
#pragma once

#include <cstdint>

#include "rtscope/templates.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::testing {

// The `pos` input of a decoder step: i64[1] holding `value`.
inline Tensor position_tensor(int64_t value) {
  Tensor t = Tensor::empty(DType::i64, {1});
  t.data_as<int64_t>()[0] = value;
  return t;
}

// The small decoder the stream checks (decoder_stream_check.hpp) and the
// cpu strategy tests run on: 2 layers, d_model 64, 4 heads, vocab 97.
inline DecoderParams small_decoder_params(DType dtype = DType::f32) {
  return DecoderParams{.layers = 2,
                       .d_model = 64,
                       .heads = 4,
                       .vocab = 97,
                       .max_seq = 32,
                       .dtype = dtype,
                       .seed = 11};
}

}  // namespace rtscope::testing
