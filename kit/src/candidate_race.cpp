#include "rtscope/kit/candidate_race.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace rtscope::kit {

RaceResult run_candidate_race(size_t candidates,
                              const std::function<std::optional<uint64_t>(size_t)>& measure,
                              const std::function<bool()>& cancelled, double close_factor) {
  constexpr uint64_t kUnmeasured = std::numeric_limits<uint64_t>::max();
  std::vector<uint64_t> scores(candidates, kUnmeasured);
  const auto run = [&](size_t i) {
    if (const std::optional<uint64_t> ns = measure(i)) scores[i] = std::min(scores[i], *ns);
  };
  for (size_t i = 0; i < candidates && !cancelled(); ++i) run(i);
  const auto best_of = [&] { return std::min_element(scores.begin(), scores.end()); };
  if (candidates == 0 || *best_of() == kUnmeasured) return {};
  const double bar = static_cast<double>(*best_of()) * close_factor;
  std::vector<size_t> close;
  for (size_t i = 0; i < candidates; ++i) {
    if (scores[i] != kUnmeasured && static_cast<double>(scores[i]) <= bar) close.push_back(i);
  }
  if (close.size() > 1) {
    for (auto it = close.rbegin(); it != close.rend() && !cancelled(); ++it) run(*it);
  }
  const auto best = best_of();
  return {static_cast<size_t>(best - scores.begin()), *best};
}

}  // namespace rtscope::kit
