#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace rtscope::runner {
namespace {

// Runs shorter than this never show progress.
constexpr std::chrono::seconds kShowAfter{1};
constexpr std::chrono::milliseconds kRedrawEvery{100};

}  // namespace

ProgressLine::ProgressLine(bool enabled, std::string label, int64_t target_iterations,
                           std::chrono::nanoseconds target_duration)
    : enabled_(enabled),
      label_(std::move(label)),
      target_iterations_(target_iterations),
      target_duration_(target_duration),
      start_(Clock::now()) {}

ProgressLine::~ProgressLine() {
  if (drawn_) {
    std::fputs("\r\033[2K", stderr);  // carriage return, erase line
    std::fflush(stderr);
  }
}

bool ProgressLine::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void ProgressLine::update(int64_t iterations) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now - start_ < kShowAfter || (drawn_ && now - last_draw_ < kRedrawEvery)) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed_s = std::chrono::duration<double>(now - start_).count();
  const double target_s = std::chrono::duration<double>(target_duration_).count();
  // Both bounds must be met; show the one further from done.
  const double done = std::min(static_cast<double>(iterations) /
                                   static_cast<double>(std::max<int64_t>(1, target_iterations_)),
                               target_s > 0 ? elapsed_s / target_s : 1.0);
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(std::clamp(done, 0.0, 1.0) * kWidth);
  const std::string time = target_s > 0 ? fmt::format("{:.1f}/{:.1f} s", elapsed_s, target_s)
                                        : fmt::format("{:.1f} s", elapsed_s);
  fmt::print(stderr, "\r\033[2K{} [{}{}] {}/{} iterations, {}", label_, std::string(filled, '#'),
             std::string(kWidth - filled, '.'), iterations, target_iterations_, time);
  std::fflush(stderr);
}

}  // namespace rtscope::runner
