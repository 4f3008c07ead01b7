#include "statistics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rtscope::runner {

double percentile_of_sorted(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = (static_cast<double>(sorted.size()) - 1) * std::clamp(p, 0.0, 100.0) / 100;
  const auto lower = static_cast<std::size_t>(std::floor(rank));
  if (lower + 1 >= sorted.size()) return sorted.back();
  const double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + fraction * (sorted[lower + 1] - sorted[lower]);
}

SampleStats summarize(std::vector<double> samples, std::span<const double> percentiles) {
  SampleStats stats;
  stats.count = samples.size();
  if (samples.empty()) {
    for (double p : percentiles) stats.percentiles[p] = 0;
    return stats;
  }
  std::sort(samples.begin(), samples.end());
  stats.min = samples.front();
  stats.max = samples.back();
  stats.sum = std::accumulate(samples.begin(), samples.end(), 0.0);
  // Shifted by the minimum and in two passes: tightly clustered latencies
  // keep their small spread instead of losing it to rounding of large sums
  // (identical samples give exactly 0).
  double shifted_sum = 0;
  for (double x : samples) shifted_sum += x - stats.min;
  const auto n = static_cast<double>(samples.size());
  stats.mean = stats.min + shifted_sum / n;
  if (samples.size() > 1) {
    double squares = 0;
    for (double x : samples) squares += (x - stats.mean) * (x - stats.mean);
    stats.stddev = std::sqrt(squares / (n - 1));
  }
  for (double p : percentiles) stats.percentiles[p] = percentile_of_sorted(samples, p);
  return stats;
}

std::string percentile_name(double p) { return fmt::format("p{}", p); }

}  // namespace rtscope::runner
