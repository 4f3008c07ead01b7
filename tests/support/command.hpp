// Runs a built program the way a user would, with its stdout and stderr
// captured through files in a test's temporary folder.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace rtscope::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when the program did not exit normally
  std::string out;
  std::string err;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `binary arguments` through the shell (arguments are shell words), output
// in `dir`/stdout and `dir`/stderr.
inline CommandResult run_command(const std::string& binary, const std::string& arguments,
                                 const std::filesystem::path& dir) {
  const std::string command = "'" + binary + "' " + arguments + " >'" + (dir / "stdout").string() +
                              "' 2>'" + (dir / "stderr").string() + "'";
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(dir / "stdout");
  result.err = read_file(dir / "stderr");
  return result;
}

}  // namespace rtscope::testing
