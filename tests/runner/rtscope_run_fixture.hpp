// Runs the built rtscope-run binary in a per-test temporary folder and
// captures its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/command.hpp"

namespace rtscope_run_test {

namespace fs = std::filesystem;

using rtscope::testing::CommandResult;
using rtscope::testing::read_file;

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
    return rtscope::testing::run_command(binary_, arguments, dir_);
  }

  std::string binary_;
  fs::path dir_;
};

}  // namespace rtscope_run_test
