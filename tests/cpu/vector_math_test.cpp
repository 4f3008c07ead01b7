// The CPU plugin's vectorized element-wise functions (vector_math.hpp)
// against float64 written here: seeded random inputs over the range where
// silu bends and where exp overflows or underflows (and a softmax's masked
// -inf), lengths around the
// 4-, 8- and 16-lane vectors and their remainders, in place and not, and
// the special values, which must come out as they do in float64.
#include "vector_math.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace rtscope::cpu {
namespace {

double silu_f64(double x) { return x / (1.0 + std::exp(-x)); }

std::vector<float> random_inputs(size_t count, uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> bend(-8.0f, 8.0f);
  std::uniform_real_distribution<float> wide(-120.0f, 120.0f);
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = i % 4 == 3 ? wide(engine) : bend(engine);
  return values;
}

// Within 8 float ulps of the float64 value (libmvec's expf: 4 ulp), plus
// `argument` ulps where the float argument of an exp was rounded (exp turns
// the absolute rounding of its argument into a relative error), and the
// same inf or NaN where float64 gives one.
void expect_close(double expected, float actual, size_t i, double argument = 0.0) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << "element " << i;
    return;
  }
  const double tolerance =
      (8.0 + std::abs(argument)) * std::numeric_limits<float>::epsilon() * std::abs(expected) +
      1e-37;
  EXPECT_NEAR(actual, expected, tolerance) << "element " << i;
}

const size_t kLengths[] = {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 1000, 4099};

TEST(CpuVectorMath, SiluMatchesFloat64) {
  for (size_t n : kLengths) {
    const std::vector<float> x = random_inputs(n, static_cast<uint32_t>(n));
    std::vector<float> out(n, 0.0f);
    silu(x.data(), out.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) expect_close(silu_f64(x[i]), out[i], i);
    std::vector<float> in_place = x;
    silu(in_place.data(), in_place.data(), static_cast<int64_t>(n));
    EXPECT_EQ(in_place, out) << n;
  }
}

TEST(CpuVectorMath, SiluGateMulMatchesFloat64) {
  for (size_t n : kLengths) {
    const std::vector<float> gate = random_inputs(n, static_cast<uint32_t>(n) + 100);
    const std::vector<float> up = random_inputs(n, static_cast<uint32_t>(n) + 200);
    std::vector<float> out = up;
    silu_gate_mul(gate.data(), out.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      expect_close(silu_f64(gate[i]) * static_cast<double>(up[i]), out[i], i);
    }
  }
}

TEST(CpuVectorMath, ExpBelowTheMaximumMatchesFloat64) {
  for (size_t n : kLengths) {
    std::vector<float> x = random_inputs(n, static_cast<uint32_t>(n) + 300);
    if (n > 1) x[n / 2] = -std::numeric_limits<float>::infinity();  // masked: exp gives 0
    const float top = *std::max_element(x.begin(), x.end());
    std::vector<float> out(n, -1.0f);
    exp_below(x.data(), top, out.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      const double argument = static_cast<double>(x[i]) - static_cast<double>(top);
      expect_close(std::exp(argument), out[i], i, std::isfinite(argument) ? argument : 0.0);
    }
    exp_below(x.data(), top, x.data(), static_cast<int64_t>(n));  // in place
    EXPECT_EQ(x, out) << n;
  }
}

// The unary ops with a vectorized loop, each against its float64 function.
struct UnaryCase {
  const char* name;
  void (*vectorized)(const float*, float*, int64_t);
  double (*reference)(double);
  bool exp_of_argument;  // the float input's rounding is amplified by exp
};

const UnaryCase kUnaryCases[] = {
    {"exp", exp_each, [](double x) { return std::exp(x); }, true},
    {"tanh", tanh_each, [](double x) { return std::tanh(x); }, false},
    {"erf", erf_each, [](double x) { return std::erf(x); }, false},
};

TEST(CpuVectorMath, UnaryOpsMatchFloat64) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const std::vector<float> specials = {kInf,    -kInf,  std::numeric_limits<float>::quiet_NaN(),
                                       0.0f,    -0.0f,  1e-30f,
                                       -1e-30f, 89.0f,  -89.0f,
                                       104.0f,  -104.0f};
  for (const UnaryCase& c : kUnaryCases) {
    for (size_t n : kLengths) {
      std::vector<float> x = random_inputs(n, static_cast<uint32_t>(n) + 400);
      for (size_t i = 0; i < specials.size() && i < n; ++i)
        x[i * n / specials.size()] = specials[i];
      std::vector<float> out(n, -1.0f);
      c.vectorized(x.data(), out.data(), static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i) {
        const double expected = c.reference(x[i]);
        SCOPED_TRACE(::testing::Message() << c.name << "(" << x[i] << "), length " << n);
        const float rounded = static_cast<float>(expected);
        if (std::isinf(rounded) || rounded == 0.0f) {
          EXPECT_EQ(out[i], rounded) << "element " << i;  // overflow and underflow as float
        } else {
          expect_close(expected, out[i], i, c.exp_of_argument ? x[i] : 0.0);
        }
      }
      c.vectorized(x.data(), x.data(), static_cast<int64_t>(n));  // in place
      for (size_t i = 0; i < n; ++i) {
        if (!std::isnan(out[i])) {
          EXPECT_EQ(x[i], out[i]) << c.name << " element " << i;
        }
      }
    }
  }
}

TEST(CpuVectorMath, SpecialValuesComeOutAsInFloat64) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {kInf,
                                -kInf,
                                std::numeric_limits<float>::quiet_NaN(),
                                0.0f,
                                -0.0f,
                                1e-30f,
                                -1e-30f,
                                89.0f,
                                -89.0f,
                                104.0f,
                                -104.0f,
                                std::numeric_limits<float>::max(),
                                -std::numeric_limits<float>::max(),
                                1e-45f,
                                3.0f,
                                -3.0f,
                                88.7f};
  std::vector<float> out(x.size());
  silu(x.data(), out.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double expected = silu_f64(x[i]);
    if (std::isinf(expected)) {
      EXPECT_EQ(out[i], static_cast<float>(expected)) << "element " << i;
    } else {
      expect_close(expected, out[i], i);
    }
  }
  std::vector<float> ones(x.size(), 1.0f);
  silu_gate_mul(x.data(), ones.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(out[i])) {
      EXPECT_TRUE(std::isnan(ones[i])) << "element " << i;
    } else {
      EXPECT_EQ(ones[i], out[i]) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace rtscope::cpu
