// ONNX RNN, GRU and LSTM, unrolled at import, against a float64
// implementation of ONNX's equations written here: the cases ONNX's own
// backend tests leave out (both directions, reverse, sequence_lens shorter
// than the sequence at run time, clip, GRU's linear_before_reset, LSTM's
// input_forget and peepholes, activations with alpha and beta, initial
// states, layout 1), on cpu and, where a Vulkan device exists, on vulkan.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using testing::OnnxModelBuilder;
using Fn = std::function<double(double)>;

enum class Cell { kRnn, kGru, kLstm };

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// One recurrent node's configuration and inputs (float64 copies of the
// f32 tensors the model is fed).
struct Case {
  Cell cell = Cell::kLstm;
  int64_t steps = 4, batch = 3, input = 5, hidden = 4;
  std::string direction = "forward";
  bool batch_first = false;
  bool with_bias = true, with_lens = false, with_initial = false, with_peepholes = false;
  std::vector<int32_t> lens;  // per batch entry, when with_lens
  float clip = 0.0f;          // 0: none
  bool linear_before_reset = false;
  bool input_forget = false;
  std::vector<std::string> activations;  // empty: ONNX's defaults
  std::vector<float> alphas, betas;

  int64_t gates() const { return cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4; }
  int64_t directions() const { return direction == "bidirectional" ? 2 : 1; }
  const char* op() const {
    return cell == Cell::kRnn ? "RNN" : cell == Cell::kGru ? "GRU" : "LSTM";
  }
};

std::vector<double> doubles(const Tensor& t) {
  const float* p = t.data_as<float>();
  return std::vector<double>(p, p + t.numel());
}

struct Outputs {
  std::vector<double> y, h, c;  // layout 0: [T, D, B, H], [D, B, H]
};

// The activation functions of direction d, by ONNX's names, alphas and
// betas consumed in order by the activations that take them.
std::vector<Fn> activation_fns(const Case& k) {
  std::vector<std::string> names = k.activations;
  if (names.empty()) {
    for (int64_t d = 0; d < k.directions(); ++d) {
      if (k.cell == Cell::kRnn) names.push_back("Tanh");
      if (k.cell == Cell::kGru) names.insert(names.end(), {"Sigmoid", "Tanh"});
      if (k.cell == Cell::kLstm) names.insert(names.end(), {"Sigmoid", "Tanh", "Tanh"});
    }
  }
  std::size_t a = 0, b = 0;
  std::vector<Fn> fns;
  for (const std::string& name : names) {
    if (name == "Sigmoid") fns.push_back(sigmoid);
    if (name == "Tanh") fns.push_back([](double x) { return std::tanh(x); });
    if (name == "Relu") fns.push_back([](double x) { return std::max(x, 0.0); });
    if (name == "LeakyRelu") {
      const double alpha = a < k.alphas.size() ? k.alphas[a++] : 0.01;
      fns.push_back([alpha](double x) { return x >= 0 ? x : alpha * x; });
    }
    if (name == "HardSigmoid") {
      const double alpha = a < k.alphas.size() ? k.alphas[a++] : 0.2;
      const double beta = b < k.betas.size() ? k.betas[b++] : 0.5;
      fns.push_back([alpha, beta](double x) { return std::clamp(alpha * x + beta, 0.0, 1.0); });
    }
    if (name == "ScaledTanh") {
      const double alpha = a < k.alphas.size() ? k.alphas[a++] : 1.0;
      const double beta = b < k.betas.size() ? k.betas[b++] : 1.0;
      fns.push_back([alpha, beta](double x) { return alpha * std::tanh(beta * x); });
    }
  }
  return fns;
}

// ONNX's RNN / GRU / LSTM equations in float64, layout 0 throughout.
Outputs reference(const Case& k, const std::vector<double>& x, const std::vector<double>& w,
                  const std::vector<double>& r, const std::vector<double>& bias,
                  const std::vector<double>& h0, const std::vector<double>& c0,
                  const std::vector<double>& peep) {
  const int64_t T = k.steps, B = k.batch, I = k.input, H = k.hidden, G = k.gates();
  const int64_t D = k.directions();
  const std::vector<Fn> fns = activation_fns(k);
  const std::size_t per_direction = fns.size() / static_cast<std::size_t>(D);
  Outputs out;
  out.y.assign(static_cast<std::size_t>(T * D * B * H), 0.0);
  out.h.assign(static_cast<std::size_t>(D * B * H), 0.0);
  out.c.assign(static_cast<std::size_t>(D * B * H), 0.0);
  auto clip = [&k](double v) {
    return k.clip > 0 ? std::clamp(v, -double(k.clip), double(k.clip)) : v;
  };
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = k.direction == "reverse" || (k.direction == "bidirectional" && d == 1);
    const Fn& f = fns[d * per_direction];
    const Fn& g = fns[std::min<std::size_t>(d * per_direction + 1, fns.size() - 1)];
    const Fn& hf = fns[std::min<std::size_t>(d * per_direction + 2, fns.size() - 1)];
    auto W = [&](int64_t row, int64_t col) { return w[(d * G * H + row) * I + col]; };
    auto R = [&](int64_t row, int64_t col) { return r[(d * G * H + row) * H + col]; };
    auto Wb = [&](int64_t row) { return k.with_bias ? bias[d * 2 * G * H + row] : 0.0; };
    auto Rb = [&](int64_t row) { return k.with_bias ? bias[d * 2 * G * H + G * H + row] : 0.0; };
    auto P = [&](int64_t gate, int64_t j) {
      return k.with_peepholes ? peep[d * 3 * H + gate * H + j] : 0.0;
    };
    for (int64_t b = 0; b < B; ++b) {
      std::vector<double> h(static_cast<std::size_t>(H)), c(static_cast<std::size_t>(H));
      for (int64_t j = 0; j < H; ++j) {
        h[j] = k.with_initial ? h0[(d * B + b) * H + j] : 0.0;
        c[j] = k.with_initial && k.cell == Cell::kLstm ? c0[(d * B + b) * H + j] : 0.0;
      }
      const int64_t len = k.with_lens ? k.lens[b] : T;
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = reverse ? len - 1 - s : s;
        const double* xt = &x[(t * B + b) * I];
        // gate row `row`: x·W[row] + Wb[row] (+ h·R[row] + Rb[row] when `with_h`)
        auto xw = [&](int64_t row) {
          double v = Wb(row);
          for (int64_t i = 0; i < I; ++i) v += xt[i] * W(row, i);
          return v;
        };
        auto hr = [&](int64_t row, const std::vector<double>& hv) {
          double v = Rb(row);
          for (int64_t i = 0; i < H; ++i) v += hv[i] * R(row, i);
          return v;
        };
        std::vector<double> hn(static_cast<std::size_t>(H)), cn(static_cast<std::size_t>(H));
        if (k.cell == Cell::kRnn) {
          for (int64_t j = 0; j < H; ++j) hn[j] = f(clip(xw(j) + hr(j, h)));
        } else if (k.cell == Cell::kGru) {
          std::vector<double> z(H), rg(H), rh(H);
          for (int64_t j = 0; j < H; ++j) {
            z[j] = f(clip(xw(j) + hr(j, h)));
            rg[j] = f(clip(xw(H + j) + hr(H + j, h)));
          }
          for (int64_t i = 0; i < H; ++i) rh[i] = rg[i] * h[i];
          for (int64_t j = 0; j < H; ++j) {
            const double recurrent =
                k.linear_before_reset ? rg[j] * hr(2 * H + j, h) : hr(2 * H + j, rh);
            const double cand = g(clip(xw(2 * H + j) + recurrent));
            hn[j] = (1 - z[j]) * cand + z[j] * h[j];
          }
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const double i = f(clip(xw(j) + hr(j, h) + P(0, j) * c[j]));
            const double fg = k.input_forget
                                  ? 1.0 - i
                                  : f(clip(xw(2 * H + j) + hr(2 * H + j, h) + P(2, j) * c[j]));
            cn[j] = fg * c[j] + i * g(clip(xw(3 * H + j) + hr(3 * H + j, h)));
            const double o = f(clip(xw(H + j) + hr(H + j, h) + P(1, j) * cn[j]));
            hn[j] = o * hf(cn[j]);
          }
        }
        h = hn;
        if (k.cell == Cell::kLstm) c = cn;
        for (int64_t j = 0; j < H; ++j) out.y[((t * D + d) * B + b) * H + j] = h[j];
      }
      for (int64_t j = 0; j < H; ++j) {
        out.h[(d * B + b) * H + j] = h[j];
        out.c[(d * B + b) * H + j] = c[j];
      }
    }
  }
  return out;
}

// [A, B, ...rest] -> [B, A, ...rest] of a flat array.
std::vector<double> swap_leading(const std::vector<double>& v, int64_t a, int64_t b) {
  const int64_t rest = static_cast<int64_t>(v.size()) / (a * b);
  std::vector<double> out(v.size());
  for (int64_t i = 0; i < a; ++i) {
    for (int64_t j = 0; j < b; ++j) {
      std::copy_n(&v[(i * b + j) * rest], rest, &out[(j * a + i) * rest]);
    }
  }
  return out;
}

double max_error(const Tensor& actual, const std::vector<double>& expected) {
  EXPECT_EQ(actual.numel(), static_cast<int64_t>(expected.size()));
  const std::vector<double> got = doubles(actual);
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(got.size(), expected.size()); ++i) {
    worst = std::max(worst, std::abs(got[i] - expected[i]));
  }
  return worst;
}

// Builds the case's model, runs it on `backends` with seeded inputs and
// compares Y, Y_h (and Y_c) with the float64 equations.
void expect_matches_equations(const Case& k, const std::vector<std::string>& backends) {
  const int64_t T = k.steps, B = k.batch, I = k.input, H = k.hidden, G = k.gates();
  const int64_t D = k.directions();
  const std::vector<int64_t> x_dims =
      k.batch_first ? std::vector<int64_t>{B, T, I} : std::vector<int64_t>{T, B, I};
  const std::vector<int64_t> state_dims =
      k.batch_first ? std::vector<int64_t>{B, D, H} : std::vector<int64_t>{D, B, H};
  const std::vector<int64_t> y_dims =
      k.batch_first ? std::vector<int64_t>{B, T, D, H} : std::vector<int64_t>{T, D, B, H};
  OnnxModelBuilder m(14);
  m.input("x", x_dims).input("w", {D, G * H, I}).input("r", {D, G * H, H});
  std::vector<std::string> node_inputs = {"x", "w", "r", "", "", "", "", ""};
  if (k.with_bias) {
    m.input("b", {D, 2 * G * H});
    node_inputs[3] = "b";
  }
  if (k.with_lens) {
    m.input("lens", {B}, onnx::TensorProto::INT32);
    node_inputs[4] = "lens";
  }
  if (k.with_initial) {
    m.input("h0", state_dims);
    node_inputs[5] = "h0";
    if (k.cell == Cell::kLstm) {
      m.input("c0", state_dims);
      node_inputs[6] = "c0";
    }
  }
  if (k.with_peepholes) {
    m.input("p", {D, 3 * H});
    node_inputs[7] = "p";
  }
  while (!node_inputs.empty() && node_inputs.back().empty()) node_inputs.pop_back();
  std::vector<std::string> node_outputs = {"y", "y_h"};
  m.output("y", y_dims).output("y_h", state_dims);
  if (k.cell == Cell::kLstm) {
    node_outputs.push_back("y_c");
    m.output("y_c", state_dims);
  }
  onnx::NodeProto& node = m.node(k.op(), node_inputs, node_outputs, "cell");
  testing::set_attr(node, "hidden_size", H);
  testing::set_attr(node, "direction", k.direction);
  if (k.batch_first) testing::set_attr(node, "layout", int64_t{1});
  if (k.clip > 0) testing::set_attr(node, "clip", k.clip);
  if (k.linear_before_reset) testing::set_attr(node, "linear_before_reset", int64_t{1});
  if (k.input_forget) testing::set_attr(node, "input_forget", int64_t{1});
  if (!k.activations.empty()) testing::set_attr(node, "activations", k.activations);
  if (!k.alphas.empty()) testing::set_attr(node, "activation_alpha", k.alphas);
  if (!k.betas.empty()) testing::set_attr(node, "activation_beta", k.betas);
  const Graph graph = import_onnx(m.write(testing::fresh_dir("recurrent")), {});

  std::map<std::string, Tensor> inputs = {
      {"x", Tensor::random(DType::f32, x_dims, 11, 1.0)},
      {"w", Tensor::random(DType::f32, {D, G * H, I}, 12, 0.6)},
      {"r", Tensor::random(DType::f32, {D, G * H, H}, 13, 0.6)}};
  if (k.with_bias) inputs["b"] = Tensor::random(DType::f32, {D, 2 * G * H}, 14, 0.5);
  if (k.with_initial) {
    inputs["h0"] = Tensor::random(DType::f32, state_dims, 15, 0.8);
    if (k.cell == Cell::kLstm) inputs["c0"] = Tensor::random(DType::f32, state_dims, 16, 0.8);
  }
  if (k.with_peepholes) inputs["p"] = Tensor::random(DType::f32, {D, 3 * H}, 17, 0.5);
  if (k.with_lens) {
    Tensor lens = Tensor::empty(DType::i32, {B});
    std::copy(k.lens.begin(), k.lens.end(), lens.data_as<int32_t>());
    inputs["lens"] = lens;
  }
  auto in = [&](const char* name, bool present) {
    return present ? doubles(inputs.at(name)) : std::vector<double>{};
  };
  std::vector<double> x = doubles(inputs.at("x"));
  std::vector<double> h0 = in("h0", k.with_initial);
  std::vector<double> c0 = in("c0", k.with_initial && k.cell == Cell::kLstm);
  if (k.batch_first) {
    x = swap_leading(x, B, T);
    if (k.with_initial) h0 = swap_leading(h0, B, D);
    if (!c0.empty()) c0 = swap_leading(c0, B, D);
  }
  Outputs expected = reference(k, x, doubles(inputs.at("w")), doubles(inputs.at("r")),
                               in("b", k.with_bias), h0, c0, in("p", k.with_peepholes));
  if (k.batch_first) {
    // [T, D, B, H] -> [B, T, D, H]; [D, B, H] -> [B, D, H]
    std::vector<double> y = swap_leading(expected.y, T * D, B);
    expected.y = y;
    expected.h = swap_leading(expected.h, D, B);
    expected.c = swap_leading(expected.c, D, B);
  }

  PluginRegistry registry;
  for (const std::string& backend : backends) registry.load({.name = backend});
  auto model = Model::build(graph, registry, {.backends = backends});
  const auto out = model->run(inputs);
  EXPECT_LE(max_error(out.at("y"), expected.y), 2e-5) << "Y";
  EXPECT_LE(max_error(out.at("y_h"), expected.h), 2e-5) << "Y_h";
  if (k.cell == Cell::kLstm) {
    EXPECT_LE(max_error(out.at("y_c"), expected.c), 2e-5) << "Y_c";
  }
}

std::vector<Case> cases() {
  std::vector<Case> list;
  Case lstm;  // both directions, peepholes, clip, initial states, ragged lengths
  lstm.cell = Cell::kLstm;
  lstm.direction = "bidirectional";
  lstm.with_lens = lstm.with_initial = lstm.with_peepholes = true;
  lstm.lens = {4, 2, 1};
  lstm.clip = 1.5f;
  list.push_back(lstm);
  Case coupled = lstm;  // one direction with input_forget and its own activations
  coupled.direction = "forward";
  coupled.input_forget = true;
  coupled.with_lens = false;
  coupled.activations = {"HardSigmoid", "ScaledTanh", "Tanh"};
  coupled.alphas = {0.3f, 0.9f};
  coupled.betas = {0.45f, 1.2f};
  list.push_back(coupled);
  Case gru;  // reverse, linear_before_reset, layout 1, ragged lengths
  gru.cell = Cell::kGru;
  gru.direction = "reverse";
  gru.linear_before_reset = true;
  gru.batch_first = true;
  gru.with_lens = gru.with_initial = true;
  gru.lens = {3, 4, 2};
  list.push_back(gru);
  Case gru_plain = gru;  // the same, reset before the product, both directions
  gru_plain.linear_before_reset = false;
  gru_plain.direction = "bidirectional";
  gru_plain.batch_first = false;
  list.push_back(gru_plain);
  Case rnn;  // LeakyRelu and Relu per direction, layout 1, no bias
  rnn.cell = Cell::kRnn;
  rnn.direction = "bidirectional";
  rnn.batch_first = true;
  rnn.with_bias = false;
  rnn.with_initial = true;
  rnn.activations = {"LeakyRelu", "Relu"};
  rnn.alphas = {0.2f};
  list.push_back(rnn);
  return list;
}

TEST(OnnxRecurrent, UnrolledCellsMatchTheEquationsOnCpu) {
  for (const Case& k : cases()) {
    SCOPED_TRACE(std::string(k.op()) + " " + k.direction);
    expect_matches_equations(k, {"cpu"});
  }
}

#ifdef RTSCOPE_HAVE_VULKAN_PLUGIN
TEST(OnnxRecurrent, UnrolledCellsMatchTheEquationsOnVulkan) {
  {
    PluginRegistry probe;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(probe);
  }
  for (const Case& k : cases()) {
    SCOPED_TRACE(std::string(k.op()) + " " + k.direction);
    expect_matches_equations(k, {"vulkan"});
  }
}
#endif

// Bad nodes are one error line naming the node: an activation rtscope
// lacks, the wrong number of activations, and weights that disagree with
// hidden_size.
TEST(OnnxRecurrent, BadNodesNameTheNodeAndWhatIsWrong) {
  auto import_with = [](const std::function<void(onnx::NodeProto&)>& edit, int64_t r_rows) {
    OnnxModelBuilder m(14);
    m.input("x", {2, 1, 3}).input("w", {1, 4, 3}).input("r", {1, r_rows, 4});
    m.output("y_h", {1, 1, 4});
    onnx::NodeProto& node = m.node("RNN", {"x", "w", "r"}, {"", "y_h"}, "cell");
    testing::set_attr(node, "hidden_size", int64_t{4});
    edit(node);
    try {
      import_onnx(m.write(testing::fresh_dir("recurrent_bad")), {});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string unknown = import_with(
      [](onnx::NodeProto& n) {
        testing::set_attr(n, "activations", std::vector<std::string>{"Gelu"});
      },
      4);
  EXPECT_THAT(unknown, HasSubstr("node 'cell'"));
  EXPECT_THAT(unknown, HasSubstr("activation 'Gelu'"));
  const std::string count = import_with(
      [](onnx::NodeProto& n) {
        testing::set_attr(n, "activations", std::vector<std::string>{"Tanh", "Tanh"});
      },
      4);
  EXPECT_THAT(count, HasSubstr("has 2 activations; RNN with 1 direction(s) takes 1"));
  const std::string shapes = import_with([](onnx::NodeProto&) {}, 5);
  EXPECT_THAT(shapes, HasSubstr("node 'cell'"));
  EXPECT_THAT(shapes, HasSubstr("do not match 1 direction(s), 1 gate(s) of hidden_size 4"));
}

}  // namespace
}  // namespace rtscope
