// Runs the built rtscope-conformance against the bundled plugins (which must
// pass) and against wrong_add, a test plugin that breaks its contract (which
// must fail with a table naming the failing checks).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/command.hpp"
#include "tools/conformance_run.hpp"

namespace {

namespace fs = std::filesystem;

using rtscope::testing::CommandResult;
using rtscope::testing::read_file;

using ConformanceTool = rtscope::conformance_test::ConformanceRun;
using rtscope::conformance_test::row_of;

TEST_F(ConformanceTool, CpuPluginPassesEveryCheck) {
  const CommandResult r = run("--plugin cpu --threads 2");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(row_of(r.out, "op matmul_2d", "f16").find("PASS"), std::string::npos) << r.out;
  EXPECT_NE(row_of(r.out, "abi threads.execute_separate_contexts", "f32").find("PASS"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

TEST_F(ConformanceTool, TestingPluginPassesAndListsDeclinedOps) {
  const fs::path json = dir_ / "report.json";
  const CommandResult r = run("--plugin testing --threads 2 --json '" + json.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(row_of(r.out, "op add_broadcast", "f32").find("PASS"), std::string::npos) << r.out;
  // The testing plugin is f32 only and has no matmul: declined, not failed.
  EXPECT_NE(row_of(r.out, "op add_same", "f16").find("not supported"), std::string::npos) << r.out;
  EXPECT_NE(row_of(r.out, "op matmul_2d", "f32").find("not supported"), std::string::npos) << r.out;
  EXPECT_NE(row_of(r.out, "abi cache.store", "f32").find("PASS"), std::string::npos) << r.out;

  const auto doc = nlohmann::json::parse(read_file(json));
  EXPECT_EQ(doc["plugin"]["id"], "testing");
  EXPECT_TRUE(doc["summary"]["ok"].get<bool>());
  EXPECT_GT(doc["summary"]["passed"].get<int>(), 20);
  EXPECT_GT(doc["summary"]["not_supported"].get<int>(), 0);
  bool saw_add = false;
  for (const auto& check : doc["checks"]) {
    if (check["check"] == "op add_same" && check["dtype"] == "f32") {
      saw_add = true;
      EXPECT_EQ(check["status"], "PASS");
      EXPECT_LT(check["max_error"].get<double>(), 1e-4);
    }
  }
  EXPECT_TRUE(saw_add) << doc.dump(2);
}

TEST_F(ConformanceTool, VulkanPluginPassesOnAnAvailableDevice) {
#ifndef RTSCOPE_HAVE_VULKAN_PLUGIN
  GTEST_SKIP() << "the vulkan plugin is not built in this configuration "
                  "(RTSCOPE_BUILD_VULKAN=OFF or a sanitizer build)";
#else
  const CommandResult r = run("--plugin vulkan --threads 2");
  // Skipped only when the machine has no Vulkan device at all (the plugin's
  // init says "no Vulkan device"); any other failure fails the test.
  if (r.exit_code != 0 && (r.err.find("has 0 device(s)") != std::string::npos ||
                           r.err.find("no Vulkan device") != std::string::npos)) {
    GTEST_SKIP() << "skipping: no Vulkan device on this machine: " << r.err;
  }
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(row_of(r.out, "op matmul_2d", "f32").find("PASS"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
#endif
}

TEST_F(ConformanceTool, BrokenPluginFailsWithReadableTable) {
  const fs::path plugin = fs::path(RTSCOPE_TEST_PLUGIN_DIR) / "librtscope_plugin_wrong_add.so";
  const CommandResult r = run("--plugin '" + plugin.string() + "' --threads 2");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // Wrong values: a + b + 0.5 is off by 0.5 everywhere.
  const std::string add = row_of(r.out, "op add_same", "f32");
  EXPECT_NE(add.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(add.find("0.5"), std::string::npos) << add;
  EXPECT_NE(add.find("x the tolerance"), std::string::npos) << add;
  // Errors without a message.
  const std::string bad_shape = row_of(r.out, "abi errors.build_wrong_shape", "f32");
  EXPECT_NE(bad_shape.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(bad_shape.find("without reporting through the error sink"), std::string::npos)
      << bad_shape;
  EXPECT_NE(row_of(r.out, "abi errors.execute_missing_binding", "f32").find("FAIL"),
            std::string::npos)
      << r.out;
  // What it does right still passes, and ops it declines are not failures.
  EXPECT_NE(row_of(r.out, "abi entry.version", "-").find("PASS"), std::string::npos) << r.out;
  EXPECT_NE(row_of(r.out, "op matmul_2d", "f32").find("not supported"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("): FAIL"), std::string::npos) << r.out;
}

TEST_F(ConformanceTool, OpsFilterRunsOnlyThoseOps) {
  const CommandResult r = run("--plugin cpu --ops relu,scale --dtypes f32 --threads 2");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(row_of(r.out, "op relu", "f32").find("PASS"), std::string::npos) << r.out;
  EXPECT_EQ(row_of(r.out, "op relu", "f16"), "") << r.out;
  EXPECT_EQ(row_of(r.out, "op add_same", "f32"), "") << r.out;
}

TEST_F(ConformanceTool, UnknownOpIsAUsageErrorListingValidOps) {
  const CommandResult r = run("--plugin cpu --ops add,no_such_op");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("unknown op 'no_such_op'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("valid ops are: add, argmax"), std::string::npos) << r.err;
}

TEST_F(ConformanceTool, MissingPluginNamesWhatWasSearched) {
  const CommandResult r = run("--plugin no_such_plugin");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("no_such_plugin"), std::string::npos) << r.err;
}

TEST_F(ConformanceTool, DeviceOutOfRangeIsAUsageError) {
  const CommandResult r = run("--plugin testing --device 7");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--device 7 is out of range"), std::string::npos) << r.err;
}

}  // namespace
