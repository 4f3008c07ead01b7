#include "run_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rtscope/error.hpp"

namespace rtscope::runner {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kConfig[] = R"(plugins:
  - name: cpu
  - path: build/plugins/vulkan/librtscope_plugin_vulkan.so
    optional: true
models:
  decoder:
    builtin: decoder
    params: {layers: 2, d_model: 256, heads: 4}
    backends: [cpu]
    compile: {fallback_data_dependent_ops: true}
    runtime: {graph_capture: whole_graph}
  tiny:
    graph: configs/models/tiny_mlp.yaml
runtime:
  kernel_specialization: eager
  cache: null
run:
  - model: decoder
    workload: {kind: stream, prompt: 4, tokens: 8}
    warmup: 2
    iterations: 10
    duration: 500ms
  - model: tiny
    workload: {kind: batch, batch: 8, seed: 3}
report:
  json: out.json
  percentiles: [50, 99.9]
)";

RunConfig parse(const std::string& text, const std::vector<std::string>& sets = {}) {
  std::vector<ConfigOverride> overrides;
  for (const std::string& set : sets) overrides.push_back(parse_override(set));
  return parse_run_config(text, "test.yaml", overrides);
}

// The message of the InputError that parsing throws.
std::string parse_error(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    parse(text, sets);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsing did not fail";
  return "";
}

TEST(RunConfig, ParsesEverySection) {
  const RunConfig config = parse(kConfig);
  ASSERT_EQ(config.plugins.size(), 2u);
  EXPECT_EQ(config.plugins[0].name, "cpu");
  EXPECT_FALSE(config.plugins[0].optional);
  EXPECT_EQ(config.plugins[1].path, "build/plugins/vulkan/librtscope_plugin_vulkan.so");
  EXPECT_TRUE(config.plugins[1].optional);

  ASSERT_EQ(config.models.size(), 2u);
  const ModelConfig& decoder = config.models[0];
  EXPECT_EQ(decoder.name, "decoder");
  EXPECT_EQ(decoder.builtin, "decoder");
  EXPECT_EQ(decoder.params.at("d_model"), "256");
  EXPECT_EQ(decoder.backends, std::vector<std::string>{"cpu"});
  EXPECT_TRUE(decoder.fallback_data_dependent_ops);
  EXPECT_FALSE(decoder.require_full_compilation);
  EXPECT_EQ(decoder.runtime.at("graph_capture"), "whole_graph");
  EXPECT_EQ(config.models[1].graph, "configs/models/tiny_mlp.yaml");

  EXPECT_EQ(config.runtime.at("kernel_specialization"), "eager");
  EXPECT_EQ(config.runtime.at("runtime_cache"), "none");

  ASSERT_EQ(config.runs.size(), 2u);
  const RunEntry& stream = config.runs[0];
  EXPECT_EQ(stream.name, "decoder");
  EXPECT_EQ(stream.workload.kind, WorkloadConfig::Kind::stream);
  EXPECT_EQ(stream.workload.prompt, 4);
  EXPECT_EQ(stream.workload.tokens, 8);
  EXPECT_EQ(stream.warmup, 2);
  EXPECT_EQ(stream.iterations, 10);
  EXPECT_EQ(stream.duration, std::chrono::milliseconds(500));
  const RunEntry& batch = config.runs[1];
  EXPECT_EQ(batch.workload.kind, WorkloadConfig::Kind::batch);
  EXPECT_EQ(batch.workload.batch, 8);
  EXPECT_EQ(batch.workload.seed, 3u);
  EXPECT_EQ(batch.warmup, 5);       // default
  EXPECT_EQ(batch.iterations, 50);  // default

  ASSERT_TRUE(config.report.json);
  EXPECT_EQ(*config.report.json, "out.json");
  EXPECT_EQ(config.report.percentiles, (std::vector<double>{50, 99.9}));
}

TEST(RunConfig, MinimalConfigGetsDefaults) {
  const RunConfig config = parse(
      "models: {m: {builtin: mlp}}\n"
      "run: [{model: m, workload: {kind: batch}}]\n");
  EXPECT_FALSE(config.has_plugins_list);
  EXPECT_EQ(config.models[0].backends, std::vector<std::string>{"cpu"});
  EXPECT_EQ(config.runs[0].workload.batch, 1);
  EXPECT_EQ(config.runs[0].duration.count(), 0);
  EXPECT_FALSE(config.report.json);
  EXPECT_EQ(config.report.percentiles, (std::vector<double>{50, 90, 95, 99}));
}

TEST(RunConfigErrors, MalformedYamlNamesFileLineAndColumn) {
  const std::string message = parse_error("models:\n  m: {builtin: mlp\nrun: []\n");
  EXPECT_THAT(message, StartsWith("test.yaml:"));
  EXPECT_THAT(message, testing::ContainsRegex("^test\\.yaml:[0-9]+:[0-9]+: "));
}

// Nesting deeper than the YAML layer's limit is one clear line at
// file:line:col naming the limit, not yaml-cpp's "bad file".
TEST(RunConfigErrors, DeeplyNestedYamlNamesTheNestingLimit) {
  const std::string message = parse_error("models: " + std::string(100000, '[') + "\n");
  EXPECT_THAT(message, StartsWith("test.yaml:1:265: YAML nested too deeply"));
  EXPECT_THAT(message, HasSubstr("at most 256 levels deep"));
  EXPECT_THAT(message, testing::Not(HasSubstr("bad file")));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

// Configs and graph files share one YAML layer: malformed text reads alike.
TEST(RunConfigErrors, MalformedYamlReadsLikeAGraphFile) {
  EXPECT_EQ(parse_error("models: {m: {builtin: mlp}}\nrun: [a, b]]\n"),
            "test.yaml:2:12: malformed YAML: illegal flow end");
}

TEST(RunConfigErrors, UnknownTopLevelKeyListsValidKeys) {
  const std::string message = parse_error(
      "models: {m: {builtin: mlp}}\n"
      "run: [{model: m, workload: {kind: batch}}]\n"
      "reprot: {json: x}\n");
  EXPECT_THAT(message, StartsWith("test.yaml:3:1: reprot: unknown key 'reprot'; valid keys: "
                                  "plugins, models, runtime, run, report"));
}

TEST(RunConfigErrors, UnknownNestedKeyNamesItsPath) {
  const std::string message = parse_error(
      "models: {m: {builtin: mlp}}\n"
      "run:\n"
      "  - model: m\n"
      "    workload: {kind: batch}\n"
      "    iteratons: 3\n");
  EXPECT_THAT(message, StartsWith("test.yaml:5:5: run.0.iteratons: unknown key 'iteratons'"));
  EXPECT_THAT(message,
              HasSubstr("valid keys: name, model, workload, warmup, iterations, duration"));
}

TEST(RunConfigErrors, BadWorkloadKindListsKinds) {
  const std::string message = parse_error(
      "models: {m: {builtin: mlp}}\n"
      "run:\n"
      "  - model: m\n"
      "    workload:\n"
      "      kind: strem\n");
  EXPECT_THAT(message, StartsWith("test.yaml:5:13: run.0.workload.kind: unknown workload kind "
                                  "'strem'; valid kinds: stream, batch"));
}

TEST(RunConfigErrors, WorkloadKeysDependOnKind) {
  const std::string message = parse_error(
      "models: {m: {builtin: mlp}}\n"
      "run: [{model: m, workload: {kind: batch, prompt: 3}}]\n");
  EXPECT_THAT(message, HasSubstr("run.0.workload.prompt: unknown key 'prompt'; valid keys: kind, "
                                 "batch, seed"));
}

TEST(RunConfigErrors, BadRuntimeValueListsValidValues) {
  const std::string message = parse_error(
      "models: {m: {builtin: mlp}}\n"
      "runtime:\n"
      "  graph_capture: always\n"
      "run: [{model: m, workload: {kind: batch}}]\n");
  EXPECT_THAT(message, StartsWith("test.yaml:3:18: runtime.graph_capture: "));
  EXPECT_THAT(message, HasSubstr("disabled, whole_graph"));
}

TEST(RunConfigErrors, UnknownModelListsModels) {
  const std::string message = parse_error(
      "models: {a: {builtin: mlp}, b: {builtin: mlp}}\n"
      "run: [{model: c, workload: {kind: batch}}]\n");
  EXPECT_THAT(message, HasSubstr("run.0.model: unknown model 'c'; models in this config: a, b"));
}

TEST(RunConfigErrors, RunNamesMustBeUnique) {
  EXPECT_THAT(parse_error("models: {a: {builtin: mlp}}\n"
                          "run: [{model: a, workload: {kind: batch}},\n"
                          "      {model: a, workload: {kind: batch, batch: 4}}]\n"),
              HasSubstr("run name 'a' is already used by run.0"));
}

TEST(RunConfigErrors, ModelNeedsExactlyOneSource) {
  EXPECT_THAT(parse_error("models: {a: {builtin: mlp, graph: g.yaml}}\n"
                          "run: [{model: a, workload: {kind: batch}}]\n"),
              HasSubstr("models.a: a model needs exactly one of 'builtin'"));
}

TEST(RunConfigErrors, ContradictoryCompileOptions) {
  EXPECT_THAT(parse_error("models:\n"
                          "  a:\n"
                          "    builtin: mlp\n"
                          "    compile: {fallback_data_dependent_ops: true, "
                          "require_full_compilation: true}\n"
                          "run: [{model: a, workload: {kind: batch}}]\n"),
              HasSubstr("models.a.compile: "));
}

TEST(RunConfigErrors, BadDurationAndIntegers) {
  EXPECT_THAT(parse_error("models: {a: {builtin: mlp}}\n"
                          "run: [{model: a, workload: {kind: batch}, duration: 2}]\n"),
              testing::AllOf(StartsWith("test.yaml:2:53: run.0.duration: invalid duration '2'"),
                             HasSubstr("2s")));
  EXPECT_THAT(parse_error("models: {a: {builtin: mlp}}\n"
                          "run: [{model: a, workload: {kind: batch, batch: 0}}]\n"),
              HasSubstr("run.0.workload.batch: must be at least 1, got 0"));
  EXPECT_THAT(parse_error("models: {a: {builtin: mlp}}\n"
                          "run: [{model: a, workload: {kind: batch}, warmup: many}]\n"),
              HasSubstr("run.0.warmup: expected an integer, got 'many'"));
}

TEST(RunConfigErrors, DuplicateKeys) {
  EXPECT_THAT(parse_error("models: {a: {builtin: mlp}}\n"
                          "run: [{model: a, workload: {kind: batch}}]\n"
                          "run: []\n"),
              HasSubstr("duplicate key 'run'"));
}

TEST(RunConfigOverrides, ReplaceScalarsAndListItems) {
  const RunConfig config =
      parse(kConfig, {"run.0.iterations=7", "models.decoder.params.layers=1",
                      "models.decoder.backends.0=testing", "run.1.workload.batch=2",
                      "runtime.graph_capture=whole_graph"});
  EXPECT_EQ(config.runs[0].iterations, 7);
  EXPECT_EQ(config.models[0].params.at("layers"), "1");
  EXPECT_EQ(config.models[0].backends, std::vector<std::string>{"testing"});
  EXPECT_EQ(config.runs[1].workload.batch, 2);
  EXPECT_EQ(config.runtime.at("graph_capture"), "whole_graph");
}

TEST(RunConfigOverrides, ValuesAreYamlAndMissingBlocksAreCreated) {
  const RunConfig config = parse(
      "models: {m: {builtin: mlp}}\n"
      "run: [{model: m, workload: {kind: batch}}]\n",
      {"models.m.backends=[testing, cpu]", "report.json=r.json", "run.0.duration=1s",
       "report.percentiles=[50]"});
  EXPECT_EQ(config.models[0].backends, (std::vector<std::string>{"testing", "cpu"}));
  ASSERT_TRUE(config.report.json);
  EXPECT_EQ(*config.report.json, "r.json");
  EXPECT_EQ(config.runs[0].duration, std::chrono::seconds(1));
  EXPECT_EQ(config.report.percentiles, std::vector<double>{50});
}

// A --set value nested past the parser's limit names the override and the
// limit in one line, not yaml-cpp's "bad file" (and does not echo the value).
TEST(RunConfigOverrides, DeeplyNestedValueNamesTheLimit) {
  const std::string message =
      parse_error(kConfig, {"report.percentiles=" + std::string(100000, '[')});
  EXPECT_THAT(message, StartsWith("--set report.percentiles: the value is nested too deeply"));
  EXPECT_THAT(message, HasSubstr("limit of 500 nested nodes"));
  EXPECT_THAT(message, testing::Not(HasSubstr("bad file")));
  EXPECT_LT(message.size(), 200u);
}

TEST(RunConfigOverrides, LaterOverrideWins) {
  const RunConfig config = parse(kConfig, {"run.0.warmup=1", "run.0.warmup=3"});
  EXPECT_EQ(config.runs[0].warmup, 3);
}

TEST(RunConfigOverrides, UnknownKeyNamesThePathAndTheOverride) {
  const std::string message = parse_error(kConfig, {"run.0.iteratons=5"});
  EXPECT_THAT(message, StartsWith("test.yaml:"));
  EXPECT_THAT(message, HasSubstr("run.0.iteratons: unknown key 'iteratons'; valid keys: name, "
                                 "model, workload, warmup, iterations, duration"));
  EXPECT_THAT(message, HasSubstr("(set by --set run.0.iteratons=5)"));
}

TEST(RunConfigOverrides, BadValueNamesTheOverride) {
  const std::string message = parse_error(kConfig, {"run.0.workload.kind=strem"});
  EXPECT_THAT(message, HasSubstr("run.0.workload.kind: unknown workload kind 'strem'"));
  EXPECT_THAT(message, HasSubstr("(set by --set run.0.workload.kind=strem)"));
}

TEST(RunConfigOverrides, IndexOutOfRange) {
  const std::string message = parse_error(kConfig, {"run.5.warmup=1"});
  EXPECT_THAT(message,
              testing::ContainsRegex("^test\\.yaml:[0-9]+:[0-9]+: --set run\\.5\\.warmup=1: "
                                     "index 5 is out of range; 'run' has 2 item"));
}

TEST(RunConfigOverrides, PathThroughAScalarOrANonIndex) {
  EXPECT_THAT(parse_error(kConfig, {"run.0.warmup.x=1"}),
              HasSubstr("--set run.0.warmup.x=1: 'run.0.warmup' is a scalar, it has no key 'x'"));
  EXPECT_THAT(parse_error(kConfig, {"run.first.warmup=1"}),
              HasSubstr("'run' is a list; 'first' is not an item index"));
}

TEST(RunConfigOverrides, MalformedOverrideArguments) {
  EXPECT_THROW(parse_override("run.0.warmup"), InputError);
  EXPECT_THROW(parse_override("run..warmup=1"), InputError);
  EXPECT_THROW(parse_override("=1"), InputError);
  const ConfigOverride override = parse_override("report.json=a=b.json");
  EXPECT_EQ(override.path, "report.json");
  EXPECT_EQ(override.value, "a=b.json");
}

TEST(RunConfig, DumpedConfigParsesToTheSameConfig) {
  const RunConfig config = parse(kConfig);
  YAML::Emitter out;
  out << to_yaml(config);
  const RunConfig again = parse(out.c_str());
  ASSERT_EQ(again.models.size(), config.models.size());
  EXPECT_EQ(again.models[0].params, config.models[0].params);
  EXPECT_EQ(again.models[0].runtime, config.models[0].runtime);
  EXPECT_EQ(again.models[0].fallback_data_dependent_ops, true);
  EXPECT_EQ(again.runtime, config.runtime);
  EXPECT_EQ(again.plugins.size(), 2u);
  EXPECT_TRUE(again.plugins[1].optional);
  ASSERT_EQ(again.runs.size(), 2u);
  EXPECT_EQ(again.runs[0].duration, config.runs[0].duration);
  EXPECT_EQ(again.runs[0].workload.tokens, 8);
  EXPECT_EQ(again.runs[1].workload.batch, 8);
  EXPECT_EQ(again.report.percentiles, config.report.percentiles);
  EXPECT_EQ(again.report.json, config.report.json);
}

}  // namespace
}  // namespace rtscope::runner
