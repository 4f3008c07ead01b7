// rtscope-run's machine-readable outputs: the Chrome trace (--trace),
// per-iteration samples (--samples) and the device listing
// (--list-devices).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "rtscope_run_fixture.hpp"

namespace {

using namespace rtscope_run_test;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;

const std::string kTinyConfig =
    stream_config({.plugin = "cpu",
                   .model = "tiny",
                   .params = "{layers: 1, d_model: 32, heads: 2, vocab: 64, max_seq: 32, seed: 3}",
                   .prompt = 2,
                   .iterations = 6});

json read_json(const fs::path& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    ADD_FAILURE() << path << " is not valid JSON: " << e.what() << "\n" << text.substr(0, 400);
    return json();
  }
}

// Number of complete events per name prefix; a prefix with no event
// counts 0 (so a missing event fails its assertion, not the lookup).
std::map<std::string, int> count_by_prefix(const json& events,
                                           const std::vector<std::string>& prefixes) {
  std::map<std::string, int> counts;
  for (const std::string& prefix : prefixes) counts[prefix] = 0;
  for (const json& event : events) {
    if (event.value("ph", "") != "X") continue;
    const std::string name = event.value("name", "");
    for (const std::string& prefix : prefixes) {
      if (name.rfind(prefix, 0) == 0) ++counts[prefix];
    }
  }
  return counts;
}

TEST_F(RtscopeRun, TraceOfTheDefaultConfigIsTraceEventJsonWithEveryPhase) {
#ifndef RTSCOPE_SOURCE_DIR
  GTEST_SKIP() << "RTSCOPE_SOURCE_DIR undefined";
#else
  const fs::path config = fs::path(RTSCOPE_SOURCE_DIR) / "configs" / "default.yaml";
  const fs::path trace = dir_ / "trace.json";
  // A cold cache in the test's folder, so kernels are tuned (compile events).
  const CommandResult result = run("--set runtime.cache=" + (dir_ / "cache.bin").string() +
                                   " --set run.0.iterations=10 --set run.0.warmup=1 " +
                                   config.string() + " --trace " + trace.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("trace with"));

  const json document = read_json(trace);
  ASSERT_TRUE(document.is_object());
  ASSERT_TRUE(document.contains("traceEvents"));
  const json& events = document["traceEvents"];
  ASSERT_TRUE(events.is_array());
  std::set<std::string> categories;
  for (const json& event : events) {
    ASSERT_TRUE(event.contains("name") && event["name"].is_string()) << event.dump();
    ASSERT_TRUE(event.contains("ph") && event["ph"].is_string()) << event.dump();
    ASSERT_TRUE(event.contains("pid") && event["pid"].is_number_integer()) << event.dump();
    if (event["ph"] != "X") continue;
    ASSERT_TRUE(event["ts"].is_number()) << event.dump();
    ASSERT_TRUE(event["dur"].is_number()) << event.dump();
    EXPECT_GE(event["ts"].get<double>(), 0.0);
    EXPECT_GE(event["dur"].get<double>(), 0.0);
    ASSERT_TRUE(event["tid"].is_number_integer()) << event.dump();
    categories.insert(event.value("cat", ""));
  }
  EXPECT_THAT(categories,
              AllOf(Contains("plugin"), Contains("model"), Contains("compile"), Contains("context"),
                    Contains("cache"), Contains("execute"), Contains("capture")));

  const auto counts = count_by_prefix(
      events, {"load plugin librtscope_plugin_cpu", "build model", "build engine", "create context",
               "tune ", "load runtime cache", "save runtime cache", "decoder", "record", "replay",
               "measure decode"});
  EXPECT_EQ(counts.at("load plugin librtscope_plugin_cpu"), 1);
  EXPECT_EQ(counts.at("build model"), 2);  // prefill and decode
  EXPECT_EQ(counts.at("create context"), 2);
  EXPECT_GT(counts.at("tune "), 0);  // kernels measured on a cold cache
  EXPECT_EQ(counts.at("load runtime cache"), 1);
  EXPECT_EQ(counts.at("save runtime cache"), 1);
  // The decode model runs under whole-graph capture: one recording, then
  // replays; every execute of both models is an event.
  EXPECT_GE(counts.at("decoder"), 11);
  EXPECT_GE(counts.at("record"), 1);
  EXPECT_GE(counts.at("replay"), 10);
  EXPECT_EQ(counts.at("measure decode"), 1);

  const bool named_main = std::any_of(events.begin(), events.end(), [](const json& event) {
    return event.value("ph", "") == "M" && event.value("name", "") == "thread_name" &&
           event["args"].value("name", "") == "main";
  });
  EXPECT_TRUE(named_main);
#endif
}

TEST_F(RtscopeRun, TraceIsWrittenWhenTheRunFails) {
  // The second entry's model needs a plugin that does not exist: the run
  // fails after the first entry has executed.
  std::string text = kTinyConfig;
  text.insert(text.find("run:"), "  missing:\n    builtin: mlp\n    backends: [no_such_plugin]\n");
  text += "  - model: missing\n    workload: {kind: batch}\n";
  const fs::path config = write("missing_backend.yaml", text);
  const fs::path trace = dir_ / "trace.json";
  const CommandResult result = run(config.string() + " --trace " + trace.string());
  ASSERT_EQ(result.exit_code, 1);
  const json document = read_json(trace);
  ASSERT_TRUE(document.contains("traceEvents"));
  const auto counts = count_by_prefix(document["traceEvents"], {"load plugin", "decoder"});
  EXPECT_EQ(counts.at("load plugin"), 1);
  EXPECT_GE(counts.at("decoder"), 7);  // the first entry's executes are kept
}

TEST_F(RtscopeRun, ReportTraceKeyWritesTheTraceLikeTheFlag) {
  const fs::path config = write("tiny.yaml", kTinyConfig);
  const fs::path trace = dir_ / "from_config.json";
  const CommandResult result = run("--set report.trace=" + trace.string() + " " + config.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json document = read_json(trace);
  ASSERT_TRUE(document.contains("traceEvents"));
  EXPECT_GE(count_by_prefix(document["traceEvents"], {"decoder"}).at("decoder"), 7);
}

TEST_F(RtscopeRun, TraceIntoAMissingFolderFailsBeforeRunning) {
  const fs::path config = write("tiny.yaml", kTinyConfig);
  const CommandResult result =
      run(config.string() + " --trace " + (dir_ / "no_such_dir" / "t.json").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, AllOf(HasSubstr("no_such_dir"), HasSubstr("trace")));
  EXPECT_EQ(result.out, "");
}

TEST_F(RtscopeRun, SamplesListEveryMeasuredIterationOnlyWhenAsked) {
  const fs::path config = write("tiny.yaml", kTinyConfig);
  const fs::path with = dir_ / "with.json";
  ASSERT_EQ(run(config.string() + " --samples --json " + with.string()).exit_code, 0);
  const json report = read_json(with);
  const json& model = report["models"]["tiny"];
  ASSERT_TRUE(model.contains("samples_ms")) << model.dump();
  const json& samples = model["samples_ms"];
  EXPECT_EQ(samples.size(), model["iterations"].get<std::size_t>());
  double smallest = 1e30;
  double largest = 0;
  for (const json& sample : samples) {
    smallest = std::min(smallest, sample.get<double>());
    largest = std::max(largest, sample.get<double>());
  }
  EXPECT_GT(smallest, 0.0);
  EXPECT_DOUBLE_EQ(smallest, model["latency_ms"]["min"].get<double>());
  EXPECT_DOUBLE_EQ(largest, model["latency_ms"]["max"].get<double>());

  const fs::path without = dir_ / "without.json";
  ASSERT_EQ(run(config.string() + " --json " + without.string()).exit_code, 0);
  EXPECT_FALSE(read_json(without)["models"]["tiny"].contains("samples_ms"));
}

TEST_F(RtscopeRun, ListDevicesWithoutConfigShowsEveryPluginInTheSearchPath) {
  const CommandResult result = run("--list-devices");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("plugin"));
  EXPECT_THAT(result.out, HasSubstr("fingerprint"));
  // Fingerprints as the plugins report them: cache entries are keyed by them.
  EXPECT_THAT(result.out, HasSubstr("cpu/"));
  EXPECT_THAT(result.out, HasSubstr("testing/virtual/0"));
}

TEST_F(RtscopeRun, ListDevicesWithConfigShowsOnlyItsPlugins) {
  const fs::path config = write("tiny.yaml", kTinyConfig);
  const CommandResult result = run("--list-devices " + config.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("cpu/"));
  EXPECT_THAT(result.out, Not(HasSubstr("testing/virtual/0")));
}

TEST_F(RtscopeRun, ConfigIsRequiredUnlessListingDevices) {
  const CommandResult result = run("--samples");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("config"));
}

}  // namespace
