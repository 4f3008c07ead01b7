// rtscope-run on models whose sizes cannot work: a weight or input whose
// byte size wraps around, or a built-in model larger than the machine. Each
// is exit code 1 and one line naming the tensor, its shape and the bytes,
// never a crash, std::bad_alloc or a silent run over an empty tensor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "rtscope_run_fixture.hpp"

namespace {

using namespace rtscope_run_test;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class RtscopeRunSizes : public RtscopeRun {
 protected:
  // Runs a config with one model read from `graph` (YAML text).
  CommandResult run_graph(const std::string& graph, int64_t batch) {
    write("g.yaml", graph);
    const fs::path config = write("run.yaml", R"(plugins:
  - name: cpu
models:
  g:
    graph: )" + (dir_ / "g.yaml").string() + R"(
    backends: [cpu]
run:
  - model: g
    workload: {kind: batch, batch: )" + std::to_string(batch) +
                                                  R"(}
    warmup: 1
    iterations: 2
)");
    return run(config.string());
  }

  static void expect_one_line_error(const CommandResult& result) {
    EXPECT_EQ(result.exit_code, 1) << result.out;
    EXPECT_THAT(result.err, StartsWith("rtscope-run: error: "));
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
};

// Was a heap-buffer-overflow (SIGSEGV in Release) in weight_init.cpp.
TEST_F(RtscopeRunSizes, WeightWhoseByteSizeWrapsIsAnError) {
  const CommandResult result = run_graph(R"(name: g
inputs:
  - {name: x, dtype: f32, shape: [1, 2]}
weights:
  - {name: w, dtype: f32, shape: [4611686018427387904, 1], init: {seed: 1}}
nodes:
  - {name: fc, op: matmul, inputs: [w, x], outputs: [y]}
outputs: [y]
)",
                                         1);
  expect_one_line_error(result);
  EXPECT_THAT(result.err, AllOf(HasSubstr("weight 'w'"), HasSubstr("f32[4611686018427387904,1]"),
                                HasSubstr("2^64 bytes")));
}

// 2^64 elements wrapped to an empty input: the run "succeeded" with exit 0.
TEST_F(RtscopeRunSizes, InputWhoseElementCountWrapsIsAnError) {
  const CommandResult result = run_graph(R"(name: g
inputs:
  - {name: x, dtype: f32, shape: [1, 65536, 65536, 65536, 65536]}
nodes:
  - {name: act, op: relu, inputs: [x], outputs: [y]}
outputs: [y]
)",
                                         1);
  expect_one_line_error(result);
  EXPECT_THAT(result.err, AllOf(HasSubstr("f32[1,65536,65536,65536,65536]"), HasSubstr("bytes")));
}

// Was "std::bad_alloc" and nothing else.
TEST_F(RtscopeRunSizes, BuiltinDecoderLargerThanTheMachineNamesTheBytes) {
  const fs::path config = write("big.yaml", R"(plugins:
  - name: cpu
models:
  big:
    builtin: decoder
    params: {layers: 2, d_model: 1048576, heads: 8, vocab: 1024, max_seq: 16}
    backends: [cpu]
run:
  - model: big
    workload: {kind: stream, prompt: 2, tokens: 2}
)");
  const CommandResult result = run(config.string());
  expect_one_line_error(result);
  EXPECT_THAT(result.err,
              AllOf(HasSubstr("builtin:decoder: its weights and state need"),
                    HasSubstr("more than this machine's"), HasSubstr("f32[1048576,4194304]")));
}

}  // namespace
