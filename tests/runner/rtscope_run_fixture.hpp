// Runs the built rtscope-run binary in a per-test temporary folder and
// captures its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace rtscope_run_test {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class RtscopeRun : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef RTSCOPE_RUN_BINARY
    GTEST_SKIP() << "rtscope-run is not built (RTSCOPE_RUN_BINARY undefined)";
#else
    binary_ = RTSCOPE_RUN_BINARY;
#endif
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("rtscope_run_test_" + std::to_string(getpid()) + "_" + test->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  CommandResult run(const std::string& arguments) {
    const std::string command = "'" + binary_ + "' " + arguments + " >'" +
                                (dir_ / "stdout").string() + "' 2>'" + (dir_ / "stderr").string() +
                                "'";
    const int status = std::system(command.c_str());
    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = read_file(dir_ / "stdout");
    result.err = read_file(dir_ / "stderr");
    return result;
  }

  std::string binary_;
  fs::path dir_;
};

}  // namespace rtscope_run_test
