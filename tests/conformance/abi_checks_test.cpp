// The ABI behaviour checks and the ABI-level op suite of the
// rtscope_conformance library, on the bundled plugins (which must pass every
// check) and on wrong_add (whose contract violations must be caught).
#include "rtscope/conformance/abi_checks.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "rtscope/conformance/op_suite.hpp"
#include "rtscope/error.hpp"
#include "rtscope/plugin_registry.hpp"

namespace rtscope::conformance {
namespace {

std::string describe(const CheckResult& r) {
  return r.check + " [" + r.dtype + "] " + to_string(r.status) + ": " + r.message;
}

const CheckResult* find_row(const std::vector<CheckResult>& rows, const std::string& check,
                            const std::string& dtype) {
  for (const auto& r : rows)
    if (r.check == check && r.dtype == dtype) return &r;
  return nullptr;
}

class AbiChecks : public ::testing::TestWithParam<std::string> {};

TEST_P(AbiChecks, BundledPluginPassesEveryCheck) {
  PluginRegistry registry;
  const Target target{registry.load({.name = GetParam()}), 0};
  AbiCheckOptions options;
  options.threads = 2;
  const auto rows = run_abi_checks(target, options);
  EXPECT_GT(rows.size(), 20u);
  for (const auto& r : rows) EXPECT_NE(r.status, CheckStatus::failed) << describe(r);
  ASSERT_NE(find_row(rows, "abi serialize.round_trip", "f32"), nullptr);
  EXPECT_EQ(find_row(rows, "abi serialize.round_trip", "f32")->status, CheckStatus::passed);
}

INSTANTIATE_TEST_SUITE_P(Plugins, AbiChecks, ::testing::Values("cpu", "testing"));

TEST(AbiOpSuite, DeclinedCasesAreNotFailures) {
  PluginRegistry registry;
  const Target target{registry.load({.name = "testing"}), 0};
  OpSuiteOptions options;
  options.ops = {"add", "matmul"};
  const auto rows = run_op_suite(target, options);
  ASSERT_NE(find_row(rows, "op add_broadcast", "f32"), nullptr);
  EXPECT_EQ(find_row(rows, "op add_broadcast", "f32")->status, CheckStatus::passed);
  EXPECT_LT(*find_row(rows, "op add_broadcast", "f32")->max_error, 1e-5);
  EXPECT_EQ(find_row(rows, "op add_broadcast", "f16")->status, CheckStatus::not_supported);
  EXPECT_EQ(find_row(rows, "op matmul_2d", "f32")->status, CheckStatus::not_supported);
  EXPECT_EQ(find_row(rows, "op relu", "f32"), nullptr);
  EXPECT_TRUE(summarize(rows).ok());
}

TEST(AbiOpSuite, UnknownOpNamesTheValidOnes) {
  try {
    check_op_names({"add", "addd"});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown op 'addd'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("valid ops are: add, argmax"), std::string::npos)
        << e.what();
  }
}

TEST(AbiChecksOnBrokenPlugin, WrongValuesAndSilentErrorsFail) {
  PluginRegistry registry;
  const Target target{registry.load({.path = std::filesystem::path(RTSCOPE_TEST_PLUGIN_DIR) /
                                             "librtscope_plugin_wrong_add.so"}),
                      0};
  OpSuiteOptions op_options;
  op_options.ops = {"add"};
  const auto ops = run_op_suite(target, op_options);
  const CheckResult* add = find_row(ops, "op add_same", "f32");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->status, CheckStatus::failed);
  EXPECT_NEAR(*add->max_error, 0.5, 1e-6);

  AbiCheckOptions options;
  options.threads = 2;
  const auto rows = run_abi_checks(target, options);
  const CheckResult* silent = find_row(rows, "abi errors.execute_missing_binding", "f32");
  ASSERT_NE(silent, nullptr);
  EXPECT_EQ(silent->status, CheckStatus::failed);
  EXPECT_NE(silent->message.find("without reporting through the error sink"), std::string::npos)
      << silent->message;
  EXPECT_EQ(find_row(rows, "abi entry.version", "-")->status, CheckStatus::passed);
  EXPECT_FALSE(summarize(rows).ok());
}

}  // namespace
}  // namespace rtscope::conformance
