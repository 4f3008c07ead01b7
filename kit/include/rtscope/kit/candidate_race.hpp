// The choice among kernel candidates timed on a machine whose speed moves
// (another process, a shared host): each candidate is measured once, in
// order; then those within `close_factor` of the best are measured again,
// in reverse order, each keeping the better of its two scores. A slow
// spell slows whichever candidates it catches; with one round the choice
// between two close kernels changed from one start of a program to the
// next (the cpu plugin's ResNet-18 layer1 convolutions: 460 against 640 us
// with the other form), while candidates far behind are not measured twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

namespace rtscope::kit {

struct RaceResult {
  std::optional<size_t> winner;  // none when every candidate failed
  uint64_t best_ns = 0;          // the winner's score
};

// `measure(i)` times candidate i and returns its score in ns (lower is
// better), or nullopt when it cannot run; `cancelled()` is checked before
// each measurement. Ties go to the earlier candidate.
RaceResult run_candidate_race(size_t candidates,
                              const std::function<std::optional<uint64_t>(size_t)>& measure,
                              const std::function<bool()>& cancelled, double close_factor = 1.25);

}  // namespace rtscope::kit
