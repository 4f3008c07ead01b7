// rtscope-conformance against careless plugins: checks run in a worker
// process, so a crash or hang becomes a failed row naming the check and the
// run goes on; exceptions crossing the C ABI are flagged; NULL required
// slots are refused; weight (constant) operands keep their shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/command.hpp"
#include "tools/conformance_run.hpp"

namespace {

namespace fs = std::filesystem;
using rtscope::testing::CommandResult;
using ::testing::HasSubstr;

fs::path test_plugin(const std::string& name) {
  return fs::path(RTSCOPE_TEST_PLUGIN_DIR) / ("librtscope_plugin_" + name + ".so");
}

using rtscope::conformance_test::row_of;

class ConformanceGuard : public rtscope::conformance_test::ConformanceRun {
 protected:
  // The tool on the throwing test plugin for `ops` in f32 (plus `options`):
  // a plugin that fails some checks, so the run must exit 1.
  CommandResult run_throwing(const std::string& ops, const std::string& options = "") {
    CommandResult r = run("--plugin '" + test_plugin("throwing").string() + "' --ops " + ops +
                          " --dtypes f32 --threads 2" + options);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    return r;
  }
};

// The f32 row of `check`, which must say FAIL.
std::string failed_row(const CommandResult& r, const std::string& check) {
  std::string row = row_of(r.out, check, "f32");
  EXPECT_THAT(row, HasSubstr("FAIL")) << r.out;
  return row;
}

TEST_F(ConformanceGuard, SkeletonExamplePassesIncludingAWeightOperand) {
  const CommandResult r = run("--plugin '" + test_plugin("skeleton").string() + "' --threads 2");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // add(x[2,3], w[2,3]) with w a constant: a plugin that flattens constant
  // shapes fails it at execute.
  EXPECT_THAT(row_of(r.out, "op add_weight", "f32"), HasSubstr("PASS")) << r.out;
}

TEST_F(ConformanceGuard, ExceptionsCrossingTheAbiAreFlaggedWithTheirType) {
  const CommandResult r = run_throwing("add,mul");
  EXPECT_THAT(failed_row(r, "op add_same"), HasSubstr("C++ exception crossed the C ABI (int)"));
  EXPECT_THAT(row_of(r.out, "op mul_same", "f32"),
              HasSubstr("std::runtime_error: query_node exploded"));
}

TEST_F(ConformanceGuard, CrashInACheckNamesItAndTheRemainingChecksStillRun) {
  const CommandResult r = run_throwing("add,relu");
  EXPECT_THAT(failed_row(r, "op relu"), HasSubstr("SIGSEGV"));
  // Rows from before the crash are kept, the checks after it ran in a new
  // worker, and each row appears once.
  failed_row(r, "op add_same");
  EXPECT_THAT(row_of(r.out, "abi entry.version", "-"), HasSubstr("PASS")) << r.out;
  EXPECT_EQ(r.out.find("abi entry.version"), r.out.rfind("abi entry.version")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("): FAIL"));
}

TEST_F(ConformanceGuard, HangingCheckIsKilledAndNamed) {
  const CommandResult r = run_throwing("gelu", " --check-timeout 1");
  EXPECT_THAT(row_of(r.out, "op gelu", "f32"), HasSubstr("did not finish within 1 s")) << r.out;
  EXPECT_THAT(row_of(r.out, "abi entry.table", "-"), HasSubstr("PASS")) << r.out;
}

// A plugin the tool cannot load fails the run with a message naming why.
struct LoadFailure {
  const char* plugin;
  std::vector<std::string> message_parts;
};

class ConformanceLoadFailure : public rtscope::conformance_test::ConformanceRun,
                               public ::testing::WithParamInterface<LoadFailure> {};

TEST_P(ConformanceLoadFailure, IsReportedNamingTheCause) {
  const CommandResult r = run("--plugin '" + test_plugin(GetParam().plugin).string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  for (const std::string& part : GetParam().message_parts) EXPECT_THAT(r.err, HasSubstr(part));
}

INSTANTIATE_TEST_SUITE_P(Plugins, ConformanceLoadFailure,
                         ::testing::Values(
                             // NULL required slots are refused, naming them.
                             LoadFailure{"null_slots", {"'query_node'", "'execute'"}},
                             // A plugin crashing while it loads is reported.
                             LoadFailure{"crash_init", {"SIGSEGV", "while loading"}}),
                         [](const auto& info) { return std::string(info.param.plugin); });

}  // namespace
