// ONNX DFT against a float64 transform written here, in the cases ONNX's
// backend tests leave out: a dft_length that pads or truncates the signal,
// one-sided output, and the inverse of a complex signal along a middle
// axis. CumSum imported (its backend tests are all float64, which rtscope
// lacks) against sums worked out here. Then the import-time errors of the
// index mappers that need values at import (ReverseSequence's lengths,
// MaxUnpool's output_shape).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <string>
#include <vector>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using testing::import_error;
using testing::OnnxModelBuilder;

struct DftCase {
  int64_t samples = 6;
  int64_t length = 6;  // dft_length
  bool complex_input = false, inverse = false, onesided = false;
};

// X_k = sum over n < min(N, L) of x_n e^(∓2πi nk/L) (/ L for the inverse).
std::vector<std::complex<double>> reference_dft(const std::vector<std::complex<double>>& x,
                                                const DftCase& c) {
  const int64_t bins = c.onesided ? c.length / 2 + 1 : c.length;
  std::vector<std::complex<double>> out(static_cast<std::size_t>(bins));
  const double sign = c.inverse ? 1.0 : -1.0;
  for (int64_t k = 0; k < bins; ++k) {
    for (int64_t n = 0; n < std::min(c.samples, c.length); ++n) {
      const double angle = sign * 2.0 * std::numbers::pi * double(n * k) / double(c.length);
      out[k] += x[n] * std::polar(1.0, angle);
    }
    if (c.inverse) out[k] /= double(c.length);
  }
  return out;
}

// A [2, 3, N, parts] signal transformed along axis 2 (batch 2, a second
// signal dim of 3), compared bin by bin with the float64 transform.
void expect_dft_matches(const DftCase& c) {
  const int64_t parts = c.complex_input ? 2 : 1;
  const int64_t bins = c.onesided ? c.length / 2 + 1 : c.length;
  OnnxModelBuilder m(17);
  m.input("x", {2, 3, c.samples, parts}).output("y", {2, 3, bins, 2});
  m.ints("length", {}, {c.length});
  onnx::NodeProto& node = m.node("DFT", {"x", "length"}, {"y"}, "dft");
  testing::set_attr(node, "axis", int64_t{2});
  if (c.inverse) testing::set_attr(node, "inverse", int64_t{1});
  if (c.onesided) testing::set_attr(node, "onesided", int64_t{1});
  const Graph graph = import_onnx(m.write(testing::fresh_dir("dft")), {});
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  const Tensor x = Tensor::random(DType::f32, {2, 3, c.samples, parts}, 21, 1.0);
  const Tensor y = model->run({{"x", x}}).at("y");
  ASSERT_EQ(y.shape(), (Shape{2, 3, bins, 2}));
  const float* in = x.data_as<float>();
  const float* out = y.data_as<float>();
  double worst = 0.0;
  for (int64_t row = 0; row < 6; ++row) {
    std::vector<std::complex<double>> signal(static_cast<std::size_t>(c.samples));
    for (int64_t n = 0; n < c.samples; ++n) {
      const float* v = in + (row * c.samples + n) * parts;
      signal[n] = {v[0], c.complex_input ? v[1] : 0.0};
    }
    const auto expected = reference_dft(signal, c);
    for (int64_t k = 0; k < bins; ++k) {
      const float* v = out + (row * bins + k) * 2;
      worst = std::max(worst, std::abs(std::complex<double>(v[0], v[1]) - expected[k]));
    }
  }
  EXPECT_LE(worst, 1e-5) << "samples " << c.samples << " length " << c.length;
}

TEST(OnnxSignal, DftMatchesTheFloat64Transform) {
  expect_dft_matches({.samples = 6, .length = 8});                    // zero padded
  expect_dft_matches({.samples = 6, .length = 4});                    // truncated
  expect_dft_matches({.samples = 7, .length = 7, .onesided = true});  // odd, one-sided
  expect_dft_matches({.samples = 5, .length = 5, .complex_input = true, .inverse = true});
  expect_dft_matches({.samples = 5, .length = 6, .complex_input = true});
}

// CumSum over the last axis (a negative axis initializer), exclusive and
// reversed: [1, 2, 3] -> [5, 3, 0].
TEST(OnnxSignal, CumSumImportsWithItsAxisAndFlags) {
  OnnxModelBuilder m(14);
  m.input("x", {2, 3}).output("y", {2, 3});
  m.ints("axis", {}, {-1});
  onnx::NodeProto& node = m.node("CumSum", {"x", "axis"}, {"y"}, "sums");
  testing::set_attr(node, "exclusive", int64_t{1});
  testing::set_attr(node, "reverse", int64_t{1});
  const Graph graph = import_onnx(m.write(testing::fresh_dir("cumsum")), {});
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  Tensor x = Tensor::empty(DType::f32, {2, 3});
  const float values[] = {1, 2, 3, -1, 0.5f, 4};
  std::copy(std::begin(values), std::end(values), x.data_as<float>());
  const Tensor y = model->run({{"x", x}}).at("y");
  EXPECT_EQ(std::vector<float>(y.data_as<float>(), y.data_as<float>() + 6),
            (std::vector<float>{5, 3, 0, 4.5f, 4, 0}));
}

TEST(OnnxIndexOps, ValuesNeededAtImportAreNamedWhenMissing) {
  OnnxModelBuilder reverse(13);
  reverse.input("x", {4, 2, 3}).input("lens", {2}, onnx::TensorProto::INT64).output("y", {4, 2, 3});
  reverse.node("ReverseSequence", {"x", "lens"}, {"y"}, "rev");
  const std::string runtime_lens = import_error(reverse, "reverse_runtime");
  EXPECT_THAT(runtime_lens, HasSubstr("node 'rev'"));
  EXPECT_THAT(runtime_lens, HasSubstr("sequence_lens 'lens' must be known at import"));

  OnnxModelBuilder unpool(13);
  unpool.input("x", {1, 1, 2, 2}).input("i", {1, 1, 2, 2}, onnx::TensorProto::INT64);
  unpool.ints("shape", {4}, {1, 1, 3, 3}).output("y", {1, 1, 3, 3});
  onnx::NodeProto& node = unpool.node("MaxUnpool", {"x", "i", "shape"}, {"y"}, "unpool");
  testing::set_attr(node, "kernel_shape", std::vector<int64_t>{2, 2});
  testing::set_attr(node, "strides", std::vector<int64_t>{2, 2});
  const std::string small = import_error(unpool, "unpool_small");
  EXPECT_THAT(small, HasSubstr("node 'unpool'"));
  EXPECT_THAT(small,
              HasSubstr("output_shape [1,1,3,3] is smaller than the unpooled shape [1,1,4,4]"));
}

}  // namespace
}  // namespace rtscope
