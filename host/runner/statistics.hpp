// Summary statistics of latency samples.
//
// Percentiles use linear interpolation between the two nearest ranks (the
// "type 7" estimator, numpy's default): for sorted samples x[0..n-1] and
// percentile p, h = (n - 1) * p / 100 and the result is
// x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
// stddev is the sample standard deviation (divides by n - 1; 0 for n < 2).
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

namespace rtscope::runner {

struct SampleStats {
  std::size_t count = 0;
  double min = 0;
  double mean = 0;
  double max = 0;
  double stddev = 0;
  double sum = 0;
  // Requested percentile -> value, e.g. 50 -> median.
  std::map<double, double> percentiles;
};

// Percentile p in [0, 100] of `sorted` (ascending, non-empty).
double percentile_of_sorted(std::span<const double> sorted, double p);

// Summarizes `samples` (any order). Empty samples give all zeros.
SampleStats summarize(std::vector<double> samples, std::span<const double> percentiles);

// "p50", "p99.9": the name a percentile has in reports.
std::string percentile_name(double p);

}  // namespace rtscope::runner
