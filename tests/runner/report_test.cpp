#include "report.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>

namespace rtscope::runner {
namespace {

Report sample_report() {
  Report report;
  report.context.host = "box";
  report.context.rtscope_version = "0.1.0";
  report.context.abi_major = 1;
  report.context.abi_minor = 0;
  report.context.plugins.push_back(
      {"cpu", "0.1.0", "/x/librtscope_plugin_cpu.so", 0, {{"cpu0", "cpu", "fp\"1", 1024}}});
  report.percentiles = {50, 99.9};
  ModelReport model;
  model.name = "decoder";
  model.model = "decoder";
  model.workload = "stream prompt 4, tokens 8";
  model.throughput_unit = "tokens";
  model.settings = {{"graph_capture", "disabled"}, {"kernel_specialization", "lazy"}};
  model.latency_ms = summarize({1, 2, 3, 4}, percentiles_to_compute(report.percentiles));
  model.iterations = 4;
  model.contexts_created = 1;
  PartitionReport& partition = model.partitions.emplace_back();
  partition.plugin = "cpu";
  partition.nodes = 12;
  partition.inputs = {"tokens", "pos"};
  partition.outputs = {"logits", "next_token"};
  report.models.push_back(model);
  return report;
}

TEST(Report, ComputesTheSchemaPercentilesAndTheConfiguredOnes) {
  EXPECT_EQ(percentiles_to_compute({99.9, 50}), (std::vector<double>{50, 90, 95, 99, 99.9}));
}

TEST(Report, JsonFollowsSchemaVersion1) {
  const YAML::Node doc = YAML::Load(to_json(sample_report()));
  EXPECT_EQ(doc["schema_version"].as<int>(), 1);
  const YAML::Node context = doc["context"];
  EXPECT_EQ(context["host"].as<std::string>(), "box");
  EXPECT_EQ(context["abi"]["major"].as<int>(), 1);
  EXPECT_EQ(context["plugins"][0]["devices"][0]["fingerprint"].as<std::string>(), "fp\"1");
  EXPECT_EQ(context["plugins"][0]["devices"][0]["memory_bytes"].as<uint64_t>(), 1024u);

  const YAML::Node model = doc["models"]["decoder"];
  ASSERT_TRUE(model.IsMap());
  for (const char* key : {"min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max", "stddev"}) {
    EXPECT_TRUE(model["latency_ms"][key].IsScalar()) << key;
  }
  EXPECT_DOUBLE_EQ(model["latency_ms"]["p50"].as<double>(), 2.5);
  EXPECT_EQ(model["settings"]["kernel_specialization"].as<std::string>(), "lazy");
  for (const char* key : {"plugin_load", "model_build", "first_inference"}) {
    EXPECT_TRUE(model["phases_ms"][key].IsScalar()) << key;
  }
  EXPECT_EQ(model["contexts_created"].as<int>(), 1);
  EXPECT_EQ(model["iterations"].as<int>(), 4);
  EXPECT_EQ(model["partitions"][0]["nodes"].as<int>(), 12);
  EXPECT_EQ(model["partitions"][0]["outputs"][1].as<std::string>(), "next_token");
}

TEST(Report, TableShowsEveryRunAndConfiguredPercentile) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  print_table(sample_report(), out);
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text += static_cast<char>(c);
  std::fclose(out);
  EXPECT_NE(text.find("latency p99.9 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("tokens/s"), std::string::npos) << text;
  EXPECT_NE(text.find("decoder"), std::string::npos) << text;
}

}  // namespace
}  // namespace rtscope::runner
