// Runs a command line through the shell with stderr merged into stdout,
// for checks that do not care which stream a message went to.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace rtscope::testing {

struct MergedResult {
  int exit_code = -1;  // -1 when the program did not exit normally
  std::string output;  // stdout and stderr, interleaved as written
};

inline MergedResult run_merged(const std::string& command_line) {
  MergedResult result;
  FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace rtscope::testing
