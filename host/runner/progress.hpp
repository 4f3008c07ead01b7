// A one-line progress display on stderr for long runs. It appears only
// when stderr is a terminal and a run has already taken a while, so short
// runs, pipes and CI logs stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rtscope::runner {

class ProgressLine {
 public:
  // `enabled` false turns every call into a no-op.
  ProgressLine(bool enabled, std::string label, int64_t target_iterations,
               std::chrono::nanoseconds target_duration);
  ~ProgressLine();  // erases the line if one was drawn
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Cheap when nothing needs drawing; redraws at most ~10 times a second.
  void update(int64_t iterations);

  // True when stderr is a terminal.
  static bool stderr_is_terminal();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  std::string label_;
  int64_t target_iterations_;
  std::chrono::nanoseconds target_duration_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace rtscope::runner
