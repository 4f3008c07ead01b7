// Sizes and files a graph asks for: a weight or state whose byte size wraps
// around, a weight file that is not a regular file (a directory, a FIFO,
// /dev/zero) and built-in templates too large for any machine are one
// InputError naming the tensor, its shape and the bytes, before anything is
// allocated or read, never a crash, a hang or std::bad_alloc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"
#include "rtscope/graph_yaml.hpp"
#include "rtscope/templates.hpp"
#include "support/error_of.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A graph whose weight `w` has `shape` and `init`.
std::string graph_with_weight(const std::string& shape, const std::string& init) {
  return "name: g\n"
         "inputs:\n"
         "  - {name: x, dtype: f32, shape: [2, 4]}\n"
         "weights:\n"
         "  - {name: w, dtype: f32, shape: " +
         shape + ", init: " + init +
         "}\n"
         "nodes:\n"
         "  - {name: fc, op: linear, inputs: [x, w], outputs: [y]}\n"
         "outputs: [y]\n";
}

Weight file_weight(const std::string& path, Shape shape) {
  Weight weight;
  weight.info.name = "w";
  for (int64_t dim : shape) weight.info.type.shape.push_back(Dim::fixed(dim));
  weight.init.kind = WeightInit::Kind::file;
  weight.init.path = path;
  return weight;
}

// Was accepted, then materializing it allocated 0 bytes (4 * 2^62 wraps)
// and wrote 2^62 floats: a heap-buffer-overflow in weight_init.cpp.
TEST(GraphSizes, WeightWhoseByteSizeWrapsFailsAtLoad) {
  const std::string message = testing::error_of([] {
    parse_graph_yaml(graph_with_weight("[4611686018427387904, 1]", "{seed: 1}"), "g.yaml");
  });
  EXPECT_THAT(message, AllOf(HasSubstr("g.yaml:5:"), HasSubstr("weight 'w'"),
                             HasSubstr("f32[4611686018427387904,1]"), HasSubstr("2^64 bytes")));
}

TEST(GraphSizes, StateWhoseElementCountWrapsFailsAtLoad) {
  const std::string text =
      "name: g\n"
      "inputs:\n"
      "  - {name: x, dtype: f32, shape: [65536, 65536, 65536, 65536]}\n"
      "states:\n"
      "  - {name: s, dtype: f32, shape: [65536, 65536, 65536, 65536], update: y}\n"
      "nodes:\n"
      "  - {name: add, op: add, inputs: [x, s], outputs: [y]}\n"
      "outputs: [y]\n";
  EXPECT_THAT(testing::error_of([&] { parse_graph_yaml(text, "g.yaml"); }),
              AllOf(HasSubstr("state 's'"), HasSubstr("f32[65536,65536,65536,65536]")));
}

// Materializing a weight built in C++ (no validate()) checks too.
TEST(GraphSizes, MaterializingAWrappingWeightIsAnInputError) {
  Weight weight;
  weight.info.name = "w";
  weight.info.type = {DType::f32, {Dim::fixed(int64_t{1} << 62), Dim::fixed(1)}};
  weight.init.seed = 1;
  EXPECT_THAT(testing::error_of([&] { materialize_weight(weight); }),
              AllOf(HasSubstr("weight 'w' f32[4611686018427387904,1]"), HasSubstr("bytes")));
}

// Was a bare std::bad_alloc (or, with overcommit, an OOM kill).
TEST(GraphSizes, WeightLargerThanMemoryNamesTheWeightAndBytes) {
  Weight weight;
  weight.info.name = "huge";
  weight.info.type = {DType::f16, {Dim::fixed(int64_t{1} << 20), Dim::fixed(int64_t{1} << 20)}};
  EXPECT_THAT(testing::error_of([&] { materialize_weight(weight); }),
              AllOf(HasSubstr("weight 'huge' f16[1048576,1048576]"),
                    HasSubstr("needs 2199023255552 bytes (2.0 TiB)"),
                    HasSubstr("of memory (RAM and swap)")));
}

// Each used to be reported as "not found".
TEST(GraphSizes, WeightFileThatIsNotARegularFileSaysWhatItIs) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "dir.bin");
  ASSERT_EQ(mkfifo((dir / "fifo.bin").c_str(), 0600), 0);
  const std::map<std::string, std::string> cases = {
      {(dir / "dir.bin").string(), "is a directory, not a regular file"},
      {(dir / "fifo.bin").string(), "is a FIFO (named pipe), not a regular file"},
      {"/dev/zero", "is a character device, not a regular file"}};
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  for (const auto& entry : cases) {
    const std::string& path = entry.first;
    const std::string& expected = entry.second;
    const std::string message = testing::error_of([&] {
      parse_graph_yaml(graph_with_weight("[4, 3]", "{file: " + path + "}"),
                       (dir / "g.yaml").string());
    });
    EXPECT_THAT(message, AllOf(HasSubstr(path), HasSubstr(expected), Not(HasSubstr("not found"))))
        << path;
  }
}

// Materializing opened a FIFO with a blocking open (waiting forever for a
// writer) and read /dev/zero to the end of memory.
TEST(GraphSizes, MaterializingFromAFifoOrDeviceNeverBlocks) {
  testing::TempDir dir;
  ASSERT_EQ(mkfifo((dir / "fifo.bin").c_str(), 0600), 0);
  EXPECT_THAT(
      testing::error_of([&] { materialize_weight(file_weight((dir / "fifo.bin").string(), {4})); }),
      HasSubstr("is a FIFO (named pipe), not a regular file"));
  EXPECT_THAT(testing::error_of([] { materialize_weight(file_weight("/dev/zero", {4})); }),
              HasSubstr("is a character device, not a regular file"));
}

TEST(GraphSizes, MaterializingFromAFileOfTheWrongSizeReadsNothing) {
  testing::TempDir dir;
  std::ofstream(dir / "w.bin", std::ios::binary) << std::string(10, '\0');
  EXPECT_THAT(
      testing::error_of([&] { materialize_weight(file_weight((dir / "w.bin").string(), {4})); }),
      HasSubstr("has 10 bytes, expected 16"));
}

TEST(GraphSizes, GraphFileThatIsAFifoIsNamedWithoutBlocking) {
  testing::TempDir dir;
  ASSERT_EQ(mkfifo((dir / "g.yaml").c_str(), 0600), 0);
  EXPECT_THAT(testing::error_of([&] { load_graph_yaml(dir / "g.yaml"); }),
              HasSubstr("is a FIFO (named pipe), not a graph file"));
  EXPECT_THAT(testing::error_of([] { load_graph_yaml("/dev/zero"); }),
              HasSubstr("is a character device, not a graph file"));
}

// Was std::bad_alloc once the first multi-terabyte weight was allocated.
TEST(GraphSizes, DecoderTooLargeForTheMachineFailsBeforeBuilding) {
  const std::string message = testing::error_of([] {
    build_template("decoder", {{"d_model", "1048576"}, {"heads", "8"}, {"layers", "4"}});
  });
  EXPECT_THAT(message, AllOf(HasSubstr("builtin:decoder: its weights and state need"),
                             HasSubstr("bytes ("), HasSubstr("more than this machine's"),
                             HasSubstr("'layers.*.ffn.w_gate' f32[1048576,4194304]")));
}

// 4 * d_model was a signed overflow.
TEST(GraphSizes, DecoderDefaultFfnOverflowIsNamed) {
  EXPECT_THAT(testing::error_of([] {
                build_template("decoder", {{"d_model", "4611686018427387904"}, {"heads", "2"}});
              }),
              HasSubstr("ffn = 4 * d_model overflows"));
  EXPECT_THAT(testing::error_of([] {
                build_template("decoder",
                               {{"d_model", "4294967296"}, {"heads", "2"}, {"ffn", "4294967296"}});
              }),
              AllOf(HasSubstr("builtin:decoder"), HasSubstr("2^64 bytes")));
}

TEST(GraphSizes, MlpTooLargeForTheMachineFailsBeforeBuilding) {
  EXPECT_THAT(testing::error_of([] {
                build_template("mlp", {{"d_in", "1048576"}, {"hidden", "1048576"}});
              }),
              AllOf(HasSubstr("builtin:mlp: its weights and state need"),
                    HasSubstr("'layers.0.weight' f32[1048576,1048576]")));
}

}  // namespace
}  // namespace rtscope
