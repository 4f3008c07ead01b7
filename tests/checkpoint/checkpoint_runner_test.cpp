// rtscope-run with `weights: DIR`: a tiny checkpoint folder streamed on the
// CPU plugin, and the config errors that belong to the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/command.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_llama.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class CheckpointRunner : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_llama(checkpoint_.path(), testing::TinyLlama{}); }

  testing::CommandResult run(const std::string& model_entry) {
    std::ofstream(dir_ / "run.yaml") << "models:\n  llama:\n"
                                     << model_entry
                                     << "run:\n  - model: llama\n"
                                        "    workload: {kind: stream, prompt: 4, tokens: 8}\n"
                                        "    warmup: 1\n    iterations: 6\n";
    return testing::run_command(
        RTSCOPE_RUN_BINARY,
        "'" + (dir_ / "run.yaml").string() + "' --json '" + (dir_ / "out.json").string() + "'",
        dir_.path());
  }

  testing::TempDir checkpoint_;
  testing::TempDir dir_;
};

TEST_F(CheckpointRunner, StreamsFromACheckpointFolder) {
  const auto result = run("    builtin: decoder\n    weights: " + checkpoint_.path().string() +
                          "\n    params: {max_seq: 32}\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(testing::read_file(dir_ / "out.json"));
  const auto& run = report["models"]["llama"];
  EXPECT_EQ(run["iterations"], 6) << run.dump();
  EXPECT_GT(run["phases_ms"]["first_inference"].get<double>(), 0.0);
  // Reading the checkpoint is reported as a part of the model build.
  const double weights_load = run["phases_ms"]["weights_load"].get<double>();
  EXPECT_GT(weights_load, 0.0);
  EXPECT_LE(weights_load, run["phases_ms"]["model_build"].get<double>());
}

TEST_F(CheckpointRunner, ReportsTheStartPhasesUpToTheFirstToken) {
  const auto result = run("    builtin: decoder\n    weights: " + checkpoint_.path().string() +
                          "\n    params: {max_seq: 32}\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(testing::read_file(dir_ / "out.json"));
  const auto& phases = report["models"]["llama"]["phases_ms"];
  auto phase = [&](const char* name) { return phases.at(name).get<double>(); };
  // Mapping and converting are the parts of reading the checkpoint; the
  // engine build (upload) and the reading are parts of the model build.
  EXPECT_GT(phase("checkpoint_map"), 0.0) << phases.dump();
  EXPECT_LE(phase("checkpoint_map") + phase("checkpoint_convert"), phase("weights_load"));
  EXPECT_GT(phase("upload"), 0.0);
  EXPECT_LE(phase("weights_load") + phase("upload"), phase("model_build"));
  EXPECT_EQ(phase("pipelines"), 0.0) << "the cpu plugin creates no pipelines";
  // From the process start: everything before the first token, in order,
  // but for the reading of the graph that ran while the plugins loaded.
  EXPECT_LE(phase("graph_beside_plugin_load"), phase("model_build"));
  EXPECT_GE(phase("start_to_first_token"), phase("plugin_load") + phase("model_build") -
                                               phase("graph_beside_plugin_load") +
                                               phase("first_inference"));
  EXPECT_THAT(result.out, HasSubstr("start to first token ms"));
  EXPECT_THAT(result.out, HasSubstr("checkpoint map/convert ms"));
}

TEST_F(CheckpointRunner, TheCheckpointIsReadWhileThePluginsLoadUnlessSerial) {
  const std::string entry = "    builtin: decoder\n    weights: " + checkpoint_.path().string() +
                            "\n    params: {max_seq: 32}\n";
  for (const bool serial : {false, true}) {
    if (serial) setenv("RTSCOPE_RUN_SERIAL_START", "1", 1);
    const auto result = run(entry);
    unsetenv("RTSCOPE_RUN_SERIAL_START");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto report = nlohmann::json::parse(testing::read_file(dir_ / "out.json"));
    const auto& phases = report["models"]["llama"]["phases_ms"];
    const double beside = phases.at("graph_beside_plugin_load").get<double>();
    if (serial) {
      EXPECT_EQ(beside, 0.0) << phases.dump();
      EXPECT_GE(phases.at("start_to_first_token").get<double>(),
                phases.at("plugin_load").get<double>() + phases.at("model_build").get<double>() +
                    phases.at("first_inference").get<double>());
      EXPECT_EQ(phases.at("checkpoint_prefault").get<double>(), 0.0) << "nothing ran beside";
    } else {
      // The whole reading of the checkpoint ran beside the plugin load.
      EXPECT_GE(beside, phases.at("weights_load").get<double>()) << phases.dump();
      EXPECT_GE(phases.at("checkpoint_prefault").get<double>(), 0.0);
    }
  }
}

TEST_F(CheckpointRunner, APluginFailureIsReportedBeforeABrokenCheckpoint) {
  std::filesystem::resize_file(checkpoint_ / "model.safetensors", 100);
  std::ofstream(dir_ / "run.yaml") << "plugins:\n  - name: no_such_backend\nmodels:\n  llama:\n"
                                      "    builtin: decoder\n    weights: "
                                   << checkpoint_.path().string()
                                   << "\nrun:\n  - model: llama\n"
                                      "    workload: {kind: stream, prompt: 4, tokens: 8}\n";
  const auto result = testing::run_command(RTSCOPE_RUN_BINARY,
                                           "'" + (dir_ / "run.yaml").string() + "'", dir_.path());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("no_such_backend"));
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("model.safetensors")));
}

TEST_F(CheckpointRunner, SizesFromParamsAreRefusedWithTheValidOnes) {
  const auto result = run("    builtin: decoder\n    weights: " + checkpoint_.path().string() +
                          "\n    params: {layers: 4}\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, AllOf(HasSubstr("'layers'"), HasSubstr("dtype, max_seq, batch")));
}

TEST_F(CheckpointRunner, WeightsBelongToTheDecoder) {
  const auto result = run("    builtin: mlp\n    weights: " + checkpoint_.path().string() + "\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err,
              AllOf(HasSubstr("run.yaml"), HasSubstr("'weights'"), HasSubstr("builtin: decoder")));
}

TEST_F(CheckpointRunner, BrokenCheckpointIsOneLineNamingTheFile) {
  std::filesystem::resize_file(checkpoint_ / "model.safetensors", 100);
  const auto result =
      run("    builtin: decoder\n    weights: " + checkpoint_.path().string() + "\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr((checkpoint_ / "model.safetensors").string()));
}

}  // namespace
}  // namespace rtscope
