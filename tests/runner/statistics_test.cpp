#include "statistics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace rtscope::runner {
namespace {

const std::vector<double> kSchemaPercentiles = {0, 50, 90, 95, 99, 100};

TEST(Statistics, OneToTenInAnyOrder) {
  const SampleStats stats = summarize({7, 3, 10, 1, 5, 9, 2, 8, 4, 6}, kSchemaPercentiles);
  EXPECT_EQ(stats.count, 10u);
  EXPECT_DOUBLE_EQ(stats.min, 1);
  EXPECT_DOUBLE_EQ(stats.max, 10);
  EXPECT_DOUBLE_EQ(stats.mean, 5.5);
  EXPECT_DOUBLE_EQ(stats.sum, 55);
  // Linear interpolation: rank h = (n - 1) * p / 100 over sorted samples.
  EXPECT_DOUBLE_EQ(stats.percentiles.at(0), 1);
  EXPECT_DOUBLE_EQ(stats.percentiles.at(50), 5.5);   // h = 4.5
  EXPECT_DOUBLE_EQ(stats.percentiles.at(90), 9.1);   // h = 8.1
  EXPECT_DOUBLE_EQ(stats.percentiles.at(95), 9.55);  // h = 8.55
  EXPECT_DOUBLE_EQ(stats.percentiles.at(99), 9.91);  // h = 8.91
  EXPECT_DOUBLE_EQ(stats.percentiles.at(100), 10);
  // Sample standard deviation: sqrt(82.5 / 9).
  EXPECT_NEAR(stats.stddev, std::sqrt(82.5 / 9), 1e-12);
}

TEST(Statistics, SampleStandardDeviationDividesByNMinusOne) {
  const SampleStats stats = summarize({2, 4, 4, 4, 5, 5, 7, 9}, kSchemaPercentiles);
  EXPECT_DOUBLE_EQ(stats.mean, 5);
  EXPECT_NEAR(stats.stddev, std::sqrt(32.0 / 7), 1e-12);
  EXPECT_DOUBLE_EQ(stats.percentiles.at(50), 4.5);  // h = 3.5 between 4 and 5
}

TEST(Statistics, SingleSampleIsEveryPercentileWithZeroSpread) {
  const SampleStats stats = summarize({3.25}, kSchemaPercentiles);
  for (const auto& [p, value] : stats.percentiles) EXPECT_DOUBLE_EQ(value, 3.25) << "p" << p;
  EXPECT_DOUBLE_EQ(stats.stddev, 0);
  EXPECT_DOUBLE_EQ(stats.mean, 3.25);
}

TEST(Statistics, EmptySamplesAreAllZero) {
  const SampleStats stats = summarize({}, kSchemaPercentiles);
  EXPECT_EQ(stats.count, 0u);
  EXPECT_DOUBLE_EQ(stats.mean, 0);
  EXPECT_DOUBLE_EQ(stats.percentiles.at(99), 0);
}

TEST(Statistics, ConstantSamplesHaveNoSpreadDespiteLargeMagnitude) {
  const SampleStats stats = summarize(std::vector<double>(1000, 1e9 + 0.1), kSchemaPercentiles);
  EXPECT_DOUBLE_EQ(stats.stddev, 0);
}

TEST(Statistics, PercentileNames) {
  EXPECT_EQ(percentile_name(50), "p50");
  EXPECT_EQ(percentile_name(99.9), "p99.9");
}

}  // namespace
}  // namespace rtscope::runner
