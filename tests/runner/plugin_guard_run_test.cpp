// rtscope-run with careless plugins: optional plugins that crash or hang in
// init are probed in a child process and dropped with a warning (verdicts
// cached by file identity); --list-devices survives them and lists a
// plugin loaded by path once; --show-partitions keeps each decline reason.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "rtscope_run_fixture.hpp"
#include "support/env_guard.hpp"

namespace rtscope_run_test {
namespace {

using rtscope::testing::EnvGuard;
using ::testing::HasSubstr;
using ::testing::Not;

fs::path test_plugin(const std::string& name) {
  return fs::path(RTSCOPE_TEST_PLUGIN_DIR) / ("librtscope_plugin_" + name + ".so");
}

const fs::path kGraph = fs::path(RTSCOPE_SOURCE_DIR) / "configs" / "models" / "tiny_mlp.yaml";
const std::string kRun = "run:\n  - model: mlp\n    workload: {kind: batch, batch: 2}\n";

class PluginGuardRun : public RtscopeRun {
 protected:
  // --list-devices on a config of `plugins` (YAML list items) whose model
  // runs on `backend`.
  CommandResult list_devices(const std::string& plugins, const std::string& backend) {
    const fs::path config = write(
        "list.yaml", "plugins:\n" + plugins + "models:\n  mlp:\n    graph: " + kGraph.string() +
                         "\n    backends: [" + backend + "]\n" + kRun);
    CommandResult r = run(config.string() + " --list-devices");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r;
  }

  // A run of tiny_mlp on cpu, with `plugin` listed first as optional.
  fs::path config_with_optional(const std::string& plugin) {
    return write("optional.yaml", "plugins:\n  - path: " + test_plugin(plugin).string() +
                                      "\n    optional: true\n  - name: cpu\nmodels:\n  mlp:\n"
                                      "    graph: " +
                                      kGraph.string() +
                                      "\n    backends: [cpu]\nrun:\n  - model: mlp\n"
                                      "    workload: {kind: batch, batch: 2}\n"
                                      "    iterations: 2\n    warmup: 0\n");
  }
  fs::path cache_file() const { return dir_ / "xdg" / "rtscope" / "plugin-probe.json"; }

  // Probe verdicts are cached in the test's folder, not the user's.
  const EnvGuard xdg_cache_{"XDG_CACHE_HOME", (dir_ / "xdg").string()};
};

TEST_F(PluginGuardRun, OptionalPluginCrashingInInitIsDroppedWithAWarning) {
  const CommandResult r = run(config_with_optional("crash_init").string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("optional plugin"));
  EXPECT_THAT(r.err, HasSubstr(test_plugin("crash_init").string()));
  EXPECT_THAT(r.err, HasSubstr("crashed while loading in a probe process"));
  EXPECT_THAT(r.err, HasSubstr("SIGSEGV"));
  EXPECT_THAT(r.out, HasSubstr("samples/s"));
}

TEST_F(PluginGuardRun, OptionalPluginHangingInInitIsDroppedAfterTheTimeLimit) {
  EnvGuard limit("RTSCOPE_PLUGIN_PROBE_TIMEOUT", "1");
  const CommandResult r = run(config_with_optional("hang_init").string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("did not finish loading within 1 s"));
  EXPECT_THAT(r.err, HasSubstr(test_plugin("hang_init").string()));
  EXPECT_THAT(r.out, HasSubstr("samples/s"));
}

TEST_F(PluginGuardRun, ProbeVerdictIsCachedByFileIdentity) {
  const fs::path config = config_with_optional("crash_init");
  ASSERT_EQ(run(config.string()).exit_code, 0);
  ASSERT_TRUE(fs::exists(cache_file()));
  nlohmann::json doc = nlohmann::json::parse(read_file(cache_file()));
  auto& entry = doc["plugins"][test_plugin("crash_init").string()];
  ASSERT_TRUE(entry.is_object()) << doc.dump(2);
  EXPECT_EQ(entry["safe"], false);
  EXPECT_TRUE(entry.contains("inode") && entry.contains("mtime_ns") && entry.contains("size"));
  // A second run takes the verdict from the cache instead of probing.
  entry["reason"] = "verdict from the cache";
  std::ofstream(cache_file()) << doc.dump();
  const CommandResult second = run(config.string());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, HasSubstr("verdict from the cache"));
}

TEST_F(PluginGuardRun, CorruptProbeCacheIsIgnoredAndRewritten) {
  fs::create_directories(cache_file().parent_path());
  std::ofstream(cache_file()) << "{not json";
  const CommandResult r = run(config_with_optional("crash_init").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("crashed while loading"));
  const nlohmann::json doc = nlohmann::json::parse(read_file(cache_file()));
  EXPECT_TRUE(doc["plugins"].contains(test_plugin("crash_init").string()));
}

TEST_F(PluginGuardRun, ListDevicesSurvivesAPluginCrashingInInit) {
  const CommandResult r = list_devices(
      "  - path: " + test_plugin("crash_init").string() + "\n  - name: testing\n", "testing");
  EXPECT_THAT(r.out, HasSubstr("not loaded: plugin " + test_plugin("crash_init").string() +
                               " crashed while loading"));
  EXPECT_THAT(r.out, HasSubstr("testing "));
}

TEST_F(PluginGuardRun, ListDevicesListsAPluginLoadedByPathOnce) {
  // newer_minor is not on the search path: only its path finds it.
  const CommandResult r =
      list_devices("  - path: " + test_plugin("newer_minor").string() + "\n", "newer_minor");
  EXPECT_THAT(r.out, HasSubstr("stub virtual device"));
  EXPECT_THAT(r.out, Not(HasSubstr("not loaded"))) << r.out;
}

TEST_F(PluginGuardRun, ShowPartitionsKeepsTheDeclineReasonOfEachEarlierBackend) {
  const fs::path config =
      write("decline.yaml", "plugins:\n  - path: " + test_plugin("newer_minor").string() +
                                "\n  - name: cpu\nmodels:\n  mlp:\n    graph: " + kGraph.string() +
                                "\n    backends: [newer_minor, cpu]\nrun:\n  - model: mlp\n"
                                "    workload: {kind: batch, batch: 2}\n    iterations: 1\n");
  const CommandResult r = run(config.string() + " --show-partitions");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("fc1 (linear) -> cpu: earlier backends declined "
                               "[newer_minor: stub plugin provides no ops]"));
}

}  // namespace
}  // namespace rtscope_run_test
