// rtscope-conformance against careless plugins: checks run in a worker
// process, so a crash or hang becomes a failed row naming the check and the
// run goes on; exceptions crossing the C ABI are flagged; NULL required
// slots are refused; weight (constant) operands keep their shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "support/command.hpp"

namespace {

namespace fs = std::filesystem;
using rtscope::testing::CommandResult;
using ::testing::HasSubstr;

fs::path test_plugin(const std::string& name) {
  return fs::path(RTSCOPE_TEST_PLUGIN_DIR) / ("librtscope_plugin_" + name + ".so");
}

// The table row of `check` for `dtype`, or "" when absent.
std::string row_of(const std::string& table, const std::string& check, const std::string& dtype) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string kind, name, type;
    words >> kind >> name >> type;
    if (kind + " " + name == check && type == dtype) return line;
  }
  return "";
}

class ConformanceGuard : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("rtscope_conformance_guard_" + std::to_string(getpid()) + "_" + test->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  CommandResult run(const std::string& arguments) {
    return rtscope::testing::run_command(RTSCOPE_CONFORMANCE_BINARY, arguments, dir_);
  }
  fs::path dir_;
};

TEST_F(ConformanceGuard, SkeletonExamplePassesIncludingAWeightOperand) {
  const CommandResult r = run("--plugin '" + test_plugin("skeleton").string() + "' --threads 2");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // add(x[2,3], w[2,3]) with w a constant: a plugin that flattens constant
  // shapes fails it at execute.
  EXPECT_THAT(row_of(r.out, "op add_weight", "f32"), HasSubstr("PASS")) << r.out;
}

TEST_F(ConformanceGuard, ExceptionsCrossingTheAbiAreFlaggedWithTheirType) {
  const CommandResult r = run("--plugin '" + test_plugin("throwing").string() +
                              "' --ops add,mul --dtypes f32 --threads 2");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string add = row_of(r.out, "op add_same", "f32");
  EXPECT_THAT(add, HasSubstr("FAIL")) << r.out;
  EXPECT_THAT(add, HasSubstr("C++ exception crossed the C ABI (int)")) << add;
  const std::string mul = row_of(r.out, "op mul_same", "f32");
  EXPECT_THAT(mul, HasSubstr("std::runtime_error: query_node exploded")) << mul;
}

TEST_F(ConformanceGuard, CrashInACheckNamesItAndTheRemainingChecksStillRun) {
  const CommandResult r = run("--plugin '" + test_plugin("throwing").string() +
                              "' --ops add,relu --dtypes f32 --threads 2");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string relu = row_of(r.out, "op relu", "f32");
  EXPECT_THAT(relu, HasSubstr("FAIL")) << r.out;
  EXPECT_THAT(relu, HasSubstr("SIGSEGV")) << relu;
  // Rows from before the crash are kept, the checks after it ran in a new
  // worker, and each row appears once.
  EXPECT_THAT(row_of(r.out, "op add_same", "f32"), HasSubstr("FAIL")) << r.out;
  EXPECT_THAT(row_of(r.out, "abi entry.version", "-"), HasSubstr("PASS")) << r.out;
  EXPECT_EQ(r.out.find("abi entry.version"), r.out.rfind("abi entry.version")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("): FAIL"));
}

TEST_F(ConformanceGuard, HangingCheckIsKilledAndNamed) {
  const CommandResult r = run("--plugin '" + test_plugin("throwing").string() +
                              "' --ops gelu --dtypes f32 --threads 2 --check-timeout 1");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string gelu = row_of(r.out, "op gelu", "f32");
  EXPECT_THAT(gelu, HasSubstr("did not finish within 1 s")) << r.out;
  EXPECT_THAT(row_of(r.out, "abi entry.table", "-"), HasSubstr("PASS")) << r.out;
}

TEST_F(ConformanceGuard, NullRequiredSlotsAreRefusedNamingThem) {
  const CommandResult r = run("--plugin '" + test_plugin("null_slots").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("'query_node'"));
  EXPECT_THAT(r.err, HasSubstr("'execute'"));
}

TEST_F(ConformanceGuard, PluginCrashingWhileLoadingIsReported) {
  const CommandResult r = run("--plugin '" + test_plugin("crash_init").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("SIGSEGV"));
  EXPECT_THAT(r.err, HasSubstr("while loading"));
}

}  // namespace
