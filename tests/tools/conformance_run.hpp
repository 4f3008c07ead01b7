// The fixture of the rtscope-conformance tests: each test runs the built
// tool in a temporary folder of its own and reads rows of its result table.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "support/program_test.hpp"

namespace rtscope::conformance_test {

// The table row of `check` for `dtype`, or "" when absent.
inline std::string row_of(const std::string& table, const std::string& check,
                          const std::string& dtype) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string kind, name, type;
    words >> kind >> name >> type;
    if (kind + " " + name == check && type == dtype) return line;
  }
  return "";
}

class ConformanceRun : public testing::ProgramTest {
 protected:
  ConformanceRun() : ProgramTest(RTSCOPE_CONFORMANCE_BINARY) {}
};

}  // namespace rtscope::conformance_test
