// A fixture for tests that run a built program the way a user would: each
// test gets a fresh temporary folder, removed afterwards, that holds the
// program's captured output and any files the test writes for it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "support/command.hpp"
#include "support/temp_dir.hpp"

namespace rtscope::testing {

class ProgramTest : public ::testing::Test {
 protected:
  // `binary` is the program's path; "" when it is not built (the derived
  // fixture then skips in SetUp).
  explicit ProgramTest(std::string binary) : binary_(std::move(binary)) {}

  // Writes `text` to `name` in the test's folder; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  // `binary arguments` (shell words) with the test's folder for output.
  CommandResult run(const std::string& arguments) { return run_command(binary_, arguments, dir_); }

  std::string binary_;
  TempDir temp_;
  std::filesystem::path dir_ = temp_.path();
};

}  // namespace rtscope::testing
