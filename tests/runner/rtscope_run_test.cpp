// End-to-end tests of the rtscope-run binary: exit codes, one-line errors,
// and the JSON report of a tiny decoder run on the CPU plugin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>

#include "rtscope_run_fixture.hpp"

namespace {

using namespace rtscope_run_test;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kTinyDecoderConfig =
    tiny_decoder_config("lazy", /*warmup=*/2, /*iterations=*/100);

TEST_F(RtscopeRun, TinyDecoderWritesJsonReport) {
  const fs::path config = write("tiny.yaml", kTinyDecoderConfig);
  const fs::path json = dir_ / "report.json";
  // --set before the positional argument must not swallow it.
  const CommandResult result =
      run("--set run.0.iterations=8 " + config.string() + " --json " + json.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("tiny"));
  EXPECT_THAT(result.out, HasSubstr("tokens/s"));

  const YAML::Node doc = YAML::LoadFile(json.string());
  EXPECT_EQ(doc["schema_version"].as<int>(), 1);
  EXPECT_EQ(doc["context"]["abi"]["major"].as<int>(), 1);
  ASSERT_TRUE(doc["context"]["plugins"].IsSequence());
  EXPECT_EQ(doc["context"]["plugins"][0]["id"].as<std::string>(), "cpu");

  const YAML::Node model = doc["models"]["tiny"];
  ASSERT_TRUE(model.IsMap()) << read_file(json);
  for (const char* key : {"min", "mean", "p50", "p90", "p95", "p99", "max", "stddev"}) {
    ASSERT_TRUE(model["latency_ms"][key].IsScalar()) << key;
    EXPECT_GT(model["latency_ms"][key].as<double>() + 1, 0) << key;
  }
  EXPECT_LE(model["latency_ms"]["min"].as<double>(), model["latency_ms"]["p50"].as<double>());
  EXPECT_LE(model["latency_ms"]["p50"].as<double>(), model["latency_ms"]["max"].as<double>());
  for (const char* key : {"plugin_load", "model_build", "first_inference"}) {
    EXPECT_GE(model["phases_ms"][key].as<double>(), 0) << key;
  }
  EXPECT_EQ(model["iterations"].as<int>(), 8);
  EXPECT_GT(model["throughput_per_s"].as<double>(), 0);
  EXPECT_EQ(model["contexts_created"].as<int>(), 1);
  EXPECT_EQ(model["settings"]["kernel_specialization"].as<std::string>(), "lazy");
  EXPECT_EQ(model["settings"]["graph_capture"].as<std::string>(), "disabled");
  ASSERT_TRUE(model["partitions"].IsSequence());
  EXPECT_EQ(model["partitions"][0]["plugin"].as<std::string>(), "cpu");
  // Counter growth over the measured steps only: the 2 warm-up steps and
  // the untimed prompt that starts the second stream of 8 tokens after
  // step 6 are left out.
  const YAML::Node measured = model["partitions"][0]["measured_counters"];
  ASSERT_TRUE(measured.IsMap()) << read_file(json);
  EXPECT_EQ(measured["executes"].as<int>(), 8);
}

TEST_F(RtscopeRun, BatchWorkloadAndMissingOptionalPlugin) {
  const fs::path config = write("mlp.yaml", R"(plugins:
  - name: cpu
  - name: no_such_backend
    optional: true
models:
  mlp:
    builtin: mlp
    params: {layers: 1, d_in: 16, hidden: 32, d_out: 8, max_batch: 8, seed: 3}
run:
  - model: mlp
    workload: {kind: batch, batch: 4}
    warmup: 1
    iterations: 5
)");
  const fs::path json = dir_ / "report.json";
  const CommandResult result = run(config.string() + " --json " + json.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("rtscope-run: warning: optional plugin no_such_backend"));
  const YAML::Node model = YAML::LoadFile(json.string())["models"]["mlp"];
  EXPECT_EQ(model["throughput_unit"].as<std::string>(), "samples");
  EXPECT_EQ(model["iterations"].as<int>(), 5);
}

TEST_F(RtscopeRun, BadConfigIsOneLineNamingTheFile) {
  const fs::path config = write("bad.yaml",
                                "models: {tiny: {builtin: decoder}}\n"
                                "run: [{model: tiny, workload: {kind: strem}}]\n");
  const CommandResult result = run(config.string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, StartsWith("rtscope-run: error: " + config.string() + ":2:"));
  EXPECT_THAT(result.err, HasSubstr("unknown workload kind 'strem'"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

TEST_F(RtscopeRun, JsonIntoAMissingFolderFailsBeforeRunning) {
  const fs::path config = write("tiny.yaml", kTinyDecoderConfig);
  const CommandResult result =
      run(config.string() + " --json " + (dir_ / "no_such_dir" / "r.json").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("no_such_dir"));
  EXPECT_EQ(result.out, "");  // nothing ran
}

TEST_F(RtscopeRun, MissingConfigFileIsAnError) {
  const CommandResult result = run((dir_ / "absent.yaml").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("absent.yaml"));
}

TEST_F(RtscopeRun, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("").exit_code, 2);
  EXPECT_EQ(run("--no-such-flag x.yaml").exit_code, 2);
  const fs::path config = write("tiny.yaml", kTinyDecoderConfig);
  const CommandResult result = run(config.string() + " --set run.0.warmup");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, StartsWith("rtscope-run: error: --set 'run.0.warmup'"));
}

#ifdef RTSCOPE_SOURCE_DIR
TEST_F(RtscopeRun, ShippedConfigsAreValid) {
  for (const char* name : {"default.yaml", "mlp.yaml", "graph.yaml"}) {
    const fs::path config = fs::path(RTSCOPE_SOURCE_DIR) / "configs" / name;
    const CommandResult result = run(config.string() + " --dump-config");
    EXPECT_EQ(result.exit_code, 0) << name << ": " << result.err;
  }
}

TEST_F(RtscopeRun, GraphFileModel) {
  const fs::path source = RTSCOPE_SOURCE_DIR;
  const CommandResult result =
      run((source / "configs" / "graph.yaml").string() + " --set models.tiny_mlp.graph=" +
          (source / "configs" / "models" / "tiny_mlp.yaml").string() +
          " --set run.0.iterations=3 --set run.0.warmup=1");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("samples/s"));
}
#endif

TEST_F(RtscopeRun, ShowPartitionsPrintsEachNodesPluginWithoutRunning) {
  const fs::path graph = fs::path(RTSCOPE_SOURCE_DIR) / "configs" / "models" / "tiny_mlp.yaml";
  const fs::path config = write("mixed.yaml", R"(plugins:
  - name: testing
  - name: cpu
models:
  mlp:
    graph: )" + graph.string() + R"(
    backends: [testing, cpu]
run:
  - model: mlp
    workload: {kind: batch, batch: 8}
    iterations: 1000000
)");
  const CommandResult result = run(config.string() + " --show-partitions");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // linear and rmsnorm are cpu-only; relu runs on the first backend.
  EXPECT_THAT(result.out, HasSubstr("model 'mlp': 4 nodes in 3 partitions"));
  EXPECT_THAT(result.out, HasSubstr("fc1 (linear) -> cpu: earlier backends declined"));
  EXPECT_THAT(result.out, HasSubstr("act (relu) -> testing: first backend supports it"));
  EXPECT_THAT(result.out, HasSubstr("fc2 (linear) -> cpu"));
  // Nothing ran: no latency table.
  EXPECT_THAT(result.out, ::testing::Not(HasSubstr("samples/s")));
}

TEST_F(RtscopeRun, DumpConfigPrintsTheEffectiveConfig) {
  const fs::path config = write("tiny.yaml", kTinyDecoderConfig);
  const CommandResult result = run(config.string() + " --set run.0.warmup=3 --dump-config");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const YAML::Node dumped = YAML::Load(result.out);
  EXPECT_EQ(dumped["run"][0]["warmup"].as<int>(), 3);
  EXPECT_EQ(dumped["models"]["tiny"]["params"]["d_model"].as<int>(), 64);
}

}  // namespace
