// rtscope-run --onnx FILE and models.NAME.onnx: the usual report, JSON and
// partitions on an imported model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "onnx_model_builder.hpp"
#include "rtscope/onnx_export.hpp"
#include "rtscope/templates.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using testing::OnnxModelBuilder;

struct Result {
  int status = -1;
  std::string output;
};

Result run(const std::string& arguments) {
  const std::string command = std::string(RTSCOPE_RUN_BINARY) + " " + arguments + " 2>&1";
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (pipe && fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  result.status = pipe ? pclose(pipe) : -1;
  return result;
}

std::filesystem::path conv_model(const std::string& name) {
  OnnxModelBuilder b;
  b.input("image", {-1, 2, 6, 6}).output("y", {-1, 4, 1, 1});
  b.raw_floats("w", {4, 2, 3, 3}, std::vector<float>(72, 0.25f));
  b.node("Conv", {"image", "w"}, {"c"}, "conv1");
  b.node("Relu", {"c"}, {"r"}, "relu1");
  b.node("GlobalAveragePool", {"r"}, {"y"}, "pool");
  return b.write(testing::fresh_dir(name));
}

TEST(OnnxRunner, QuickModeRunsAndWritesJson) {
  const auto path = conv_model("quick");
  const auto json = path.parent_path() / "report.json";
  const Result r = run("--onnx " + path.string() + " --shapes image:2x2x6x6 --json " +
                       json.string() + " --set run.0.iterations=3 --set run.0.warmup=1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("latency p50 ms"));
  std::ifstream in(json);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\"model\""));
  EXPECT_THAT(text.str(), HasSubstr("batch 2"));
}

TEST(OnnxRunner, ShowPartitionsListsImportedNodes) {
  const Result r = run("--onnx " + conv_model("partitions").string() +
                       " --shapes image:1x2x6x6 --show-partitions");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("conv1 (conv) -> cpu"));
  EXPECT_THAT(r.output, HasSubstr("pool (reduce_mean) -> cpu"));
}

TEST(OnnxRunner, ConfigModelWithShapes) {
  const auto path = conv_model("config");
  const auto config = path.parent_path() / "run.yaml";
  std::ofstream(config) << "models:\n  net:\n    onnx: " << path.string()
                        << "\n    shapes: {image: [1, 2, 6, 6]}\n"
                           "run:\n  - model: net\n    workload: {kind: batch, batch: 1}\n"
                           "    warmup: 1\n    iterations: 2\n";
  const Result r = run(config.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("net"));
}

TEST(OnnxRunner, ShapesWithoutOnnxIsAUsageError) {
  const Result r = run("configs/default.yaml --shapes x:1x2");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("--onnx"));
}

TEST(OnnxRunner, BadShapesTextNamesTheEntry) {
  const Result r = run("--onnx " + conv_model("badshapes").string() + " --shapes image:2xZ");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("'image:2xZ'"));
}

// A small decoder export (concat-style KV), for the stream runs below.
std::filesystem::path decoder_model(const std::string& name) {
  DecoderParams p;
  p.layers = 1;
  p.d_model = 32;
  p.heads = 4;
  p.vocab = 64;
  p.max_seq = 32;
  p.seed = 7;
  const auto path = testing::fresh_dir(name) / "decoder.onnx";
  export_decoder_onnx(p, KvCacheStyle::concat, path);
  return path;
}

TEST(OnnxRunner, QuickModeStreamsAnImportedDecoder) {
  for (const char* capture : {"disabled", "whole_graph"}) {
    const Result r = run("--onnx " + decoder_model("quick_decoder").string() +
                         " --shapes past_key_values.0.key:1x4x32x8 --set run.0.iterations=8 "
                         "--set run.0.warmup=1 --set run.0.workload.tokens=8 "
                         "--set runtime.graph_capture=" +
                         capture);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("stream prompt 16, tokens 8"));
    EXPECT_THAT(r.output, HasSubstr("tokens/s"));
  }
}

// models.NAME.alias declares the pairs; a pair that is no update of its
// past is a one-line error naming both.
TEST(OnnxRunner, ConfigAliasDeclaresPairs) {
  const auto model = decoder_model("alias_decoder");
  const auto write = [&](const std::string& alias) {
    const auto file = model.parent_path() / "run.yaml";
    std::ofstream(file) << "models:\n"
                           "  step:\n"
                           "    onnx: "
                        << model.string()
                        << "\n"
                           "    shapes: {input_ids: [1, 1], past_key_values.0.key: [1, 4, 32, 8]}\n"
                           "    alias: {"
                        << alias
                        << "}\n"
                           "  prompt:\n"
                           "    onnx: "
                        << model.string()
                        << "\n"
                           "    shapes: {input_ids: [1, 4], past_key_values.0.key: [1, 4, 32, 8]}\n"
                           "run:\n"
                           "  - model: step\n"
                           "    workload: {kind: stream, prompt: 4, tokens: 4, prefill: prompt}\n"
                           "    iterations: 4\n";
    return file;
  };
  const Result ok = run(write("present.0.key: past_key_values.0.key").string());
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("stream prompt 4, tokens 4"));
  const Result bad = run(write("logits: past_key_values.0.key").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.output, HasSubstr("'logits' cannot alias 'past_key_values.0.key'"));
}

// --onnx-no-fuse (models.NAME.fuse: false) imports every node as mapped:
// the decomposed decoder has many more nodes than the fused one, whose
// layer runs rmsnorm, rope and attention; `fuse` on a built-in model is an
// error naming the key.
TEST(OnnxRunner, NoFuseKeepsTheDecomposedDecoder) {
  const std::string common = "--onnx " + decoder_model("fuse_switch").string() +
                             " --shapes past_key_values.0.key:1x4x32x8 --show-partitions "
                             "--set run.0.iterations=2 --set run.0.warmup=1 "
                             "--set run.0.workload.tokens=2";
  const Result fused = run(common);
  ASSERT_EQ(fused.status, 0) << fused.output;
  EXPECT_THAT(fused.output, HasSubstr("model 'decoder': 31 nodes"));
  EXPECT_THAT(fused.output, HasSubstr("(attention) -> cpu"));
  EXPECT_THAT(fused.output, HasSubstr("(rope) -> cpu"));
  const Result unfused = run(common + " --onnx-no-fuse");
  ASSERT_EQ(unfused.status, 0) << unfused.output;
  EXPECT_THAT(unfused.output, HasSubstr("model 'decoder': 75 nodes"));
  EXPECT_THAT(unfused.output, ::testing::Not(HasSubstr("(attention) -> cpu")));
  const auto file = testing::fresh_dir("fuse_builtin") / "run.yaml";
  std::ofstream(file) << "models:\n  m: {builtin: mlp, fuse: false}\nrun:\n  - model: m\n";
  const Result bad = run(file.string());
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.output, HasSubstr("'fuse' belongs to 'onnx' models"));
}

}  // namespace
}  // namespace rtscope
