// Runs the built rtscope-run binary in a per-test temporary folder and
// captures its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/command.hpp"
#include "support/program_test.hpp"

namespace rtscope_run_test {

namespace fs = std::filesystem;

using rtscope::testing::CommandResult;
using rtscope::testing::read_file;

#ifdef RTSCOPE_RUN_BINARY
inline constexpr const char* kRtscopeRunBinary = RTSCOPE_RUN_BINARY;
#else
inline constexpr const char* kRtscopeRunBinary = "";
#endif

class RtscopeRun : public rtscope::testing::ProgramTest {
 protected:
  RtscopeRun() : ProgramTest(kRtscopeRunBinary) {}
  void SetUp() override {
    if (binary_.empty()) GTEST_SKIP() << "rtscope-run is not built (RTSCOPE_RUN_BINARY undefined)";
  }
};

}  // namespace rtscope_run_test
