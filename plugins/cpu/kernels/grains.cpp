// Grain candidates shared by the tunable kernels.
#include <algorithm>

#include "kernels/op_spec.hpp"

namespace rtscope::cpu {

std::vector<int64_t> candidate_grains(int64_t items, unsigned threads, int64_t default_grain) {
  std::vector<int64_t> grains;
  const int64_t upper = std::max<int64_t>(items, 1);
  auto add = [&](int64_t grain) {
    grain = std::clamp<int64_t>(grain, 1, upper);
    if (std::find(grains.begin(), grains.end(), grain) == grains.end()) grains.push_back(grain);
  };
  add(upper);  // everything on the calling thread: no wake-up cost
  // One task per pool thread, unless a task would be tiny (under 1/16 of
  // the kernel's default grain): even a warm worker's hand-off costs more
  // than such a task, and a tuning loop, where workers never idle, would
  // not show that.
  const int64_t per_thread = threads > 1 ? (items + threads - 1) / threads : upper;
  if (threads > 1 && per_thread >= default_grain / 16) add(per_thread);
  add(default_grain);
  return grains;
}

}  // namespace rtscope::cpu
