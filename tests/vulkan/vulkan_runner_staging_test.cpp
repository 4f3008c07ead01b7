// rtscope-run reports, per module, the bytes the Vulkan plugin staged
// between host memory and the device: a decoder whose KV caches stay on
// the device stages only each step's tokens, position and next token. It
// also lists the plugin's start-up phases, each inside the runner phase it
// belongs to.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runner/rtscope_run_fixture.hpp"
#include "support/env_guard.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope_run_test {
namespace {

const std::string kConfig =
    stream_config({.plugin = "vulkan",
                   .model = "decoder",
                   .params = "{layers: 2, d_model: 64, heads: 4, vocab: 97, max_seq: 64, seed: 3}",
                   .tokens = 16,
                   .warmup = 2,
                   .iterations = 10});

// rtscope-run on kConfig with a JSON report; skipped without a Vulkan
// device.
class VulkanRun : public RtscopeRun {
 protected:
  void SetUp() override {
    RtscopeRun::SetUp();
    if (IsSkipped()) return;
    rtscope::PluginRegistry registry;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  }
  CommandResult run_config() {
    const fs::path config = write("vulkan.yaml", kConfig);
    return run("'" + config.string() + "' --json '" + json_path().string() + "'");
  }
  nlohmann::json json_report() { return nlohmann::json::parse(read_file(json_path())); }
  fs::path json_path() const { return dir_ / "report.json"; }
};

TEST_F(VulkanRun, VulkanModulesReportStagedBytesPerIteration) {
  const CommandResult result = run_config();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("staged per iteration"), std::string::npos) << result.out;

  const nlohmann::json report = json_report();
  const nlohmann::json& partition = report.at("models").at("decoder").at("partitions").at(0);
  EXPECT_EQ(partition.at("plugin"), "vulkan");
  // A decode step: tokens i64[1,1] and pos i64[1] in, next_token i64[1,1]
  // out. The caches (2 layers x 2 x 64 x 64 f32) never cross, nor do the
  // logits (f32[1,1,97]) after a stream's first step.
  const double step_bytes = 8 + 8 + 8;
  const double per_iteration = partition.at("staged_bytes_per_iteration").get<double>();
  EXPECT_GE(per_iteration, step_bytes);
  EXPECT_LT(per_iteration, step_bytes + 97 * 4)
      << "only the prompt and a stream's first step stage more";
  EXPECT_GT(partition.at("staged_bytes").get<uint64_t>(), 0u);
  // Device time of the measured iterations, and the text row showing it.
  const nlohmann::json& measured = partition.at("measured_counters");
  EXPECT_EQ(measured.at("executes").get<uint64_t>(), 10u);
  EXPECT_EQ(measured.at("gpu_timed_executes").get<uint64_t>(), 10u);
  EXPECT_GT(measured.at("gpu_time_ns").get<uint64_t>(), 0u);
  EXPECT_NE(result.out.find("device time per iteration"), std::string::npos) << result.out;
}

// The runner's phases and the plugin's start-up phases of one run.
struct StartUpPhases {
  nlohmann::json plugin;
  nlohmann::json runner;
  double ms(const char* name) const {
    return (plugin.contains(name) ? plugin : runner).at(name).get<double>();
  }
  // What the engine build holds when it writes the weights itself: the
  // device (`device_phase`: created, or waited for), the allocations and
  // the upload; together no longer than the runner's `upload`.
  double build_ms(const char* device_phase) const {
    return ms(device_phase) + ms("vulkan.constants_alloc") + ms("vulkan.upload_fill") +
           ms("vulkan.upload_drain");
  }
};

// Both phase lists of a run's report.
StartUpPhases start_up_phases(const nlohmann::json& report) {
  const nlohmann::json& run = report.at("models").at("decoder");
  return {run.at("plugin_phases_ms"), run.at("phases_ms")};
}

TEST_F(VulkanRun, VulkanStartUpPhasesAreReportedInsideTheirRunnerPhases) {
  rtscope::testing::EnvGuard lazy("RTSCOPE_VULKAN_EAGER_DEVICE", "0");
  // The whole upload inside the engine build.
  rtscope::testing::EnvGuard in_build("RTSCOPE_VULKAN_UPLOAD_OVERLAP", "0");
  const CommandResult result = run_config();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("vulkan.upload_fill ms"), std::string::npos) << result.out;
  const StartUpPhases phases = start_up_phases(json_report());
  // Instance and device listing happen inside the plugin load; the device
  // and the constants inside the engine build (upload).
  EXPECT_GT(phases.ms("vulkan.instance"), 0.0) << phases.plugin.dump();
  EXPECT_LE(phases.ms("vulkan.instance") + phases.ms("vulkan.devices_list"),
            phases.ms("plugin_load"));
  EXPECT_GT(phases.ms("vulkan.device_create"), 0.0);
  EXPECT_EQ(phases.ms("vulkan.device_wait"), 0.0) << "nothing was opened ahead";
  EXPECT_GT(phases.ms("vulkan.upload_fill"), 0.0);
  EXPECT_LE(phases.build_ms("vulkan.device_create"), phases.ms("upload"));
}

TEST_F(VulkanRun, VulkanOpensTheDefaultDeviceWhileTheHostPrepares) {
  rtscope::testing::EnvGuard eager("RTSCOPE_VULKAN_EAGER_DEVICE", "1");
  rtscope::testing::EnvGuard in_build("RTSCOPE_VULKAN_UPLOAD_OVERLAP", "0");
  const CommandResult result = run_config();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const StartUpPhases phases = start_up_phases(json_report());
  EXPECT_GT(phases.ms("vulkan.device_create"), 0.0) << phases.plugin.dump();
  // The engine build waits only for what is left of opening the device,
  // never for a second open. The wait can still outlast the driver's own
  // create time by the opener thread's start and the waiter's wake-up,
  // which a loaded machine stretches (0.4 ms seen on two busy cores).
  constexpr double kSchedulingSlackMs = 25.0;
  EXPECT_LE(phases.ms("vulkan.device_wait"),
            phases.ms("vulkan.device_create") + kSchedulingSlackMs);
  EXPECT_LE(phases.build_ms("vulkan.device_wait"), phases.ms("upload"));
}

// By default the weights are written on a thread of their own after the
// engine build returns: the build holds only the device and the
// allocations, the first inference holds the context's pipelines, the
// first plan, its specialized pipelines, the recording, the wait for the
// upload and the first submit, and the fill ends before the first token.
TEST_F(VulkanRun, VulkanFirstInferencePhasesOverlapTheUpload) {
  rtscope::testing::EnvGuard lazy("RTSCOPE_VULKAN_EAGER_DEVICE", "0");
  rtscope::testing::EnvGuard overlap("RTSCOPE_VULKAN_UPLOAD_OVERLAP", "1");
  const CommandResult result = run_config();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("vulkan.upload_wait ms"), std::string::npos) << result.out;
  const StartUpPhases phases = start_up_phases(json_report());
  EXPECT_LE(phases.ms("vulkan.device_create") + phases.ms("vulkan.constants_alloc"),
            phases.ms("upload"))
      << phases.plugin.dump();
  EXPECT_GT(phases.ms("vulkan.upload_fill"), 0.0);
  EXPECT_LE(phases.ms("vulkan.upload_fill"), phases.ms("start_to_first_token"));
  EXPECT_GT(phases.ms("vulkan.pipelines"), 0.0);
  EXPECT_GT(phases.ms("vulkan.first_plan"), 0.0);
  EXPECT_GT(phases.ms("vulkan.first_record"), 0.0);
  EXPECT_GT(phases.ms("vulkan.first_submit"), 0.0);
  EXPECT_LE(phases.ms("vulkan.pipelines") + phases.ms("vulkan.first_plan") +
                phases.ms("vulkan.first_specialize") + phases.ms("vulkan.first_record") +
                phases.ms("vulkan.upload_wait") + phases.ms("vulkan.first_submit"),
            phases.ms("first_inference"));
}

}  // namespace
}  // namespace rtscope_run_test
