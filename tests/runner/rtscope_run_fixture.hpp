// Runs the built rtscope-run binary in a per-test temporary folder and
// captures its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "support/command.hpp"
#include "support/program_test.hpp"

namespace rtscope_run_test {

namespace fs = std::filesystem;

using rtscope::testing::CommandResult;
using rtscope::testing::read_file;

#ifdef RTSCOPE_RUN_BINARY
inline constexpr const char* kRtscopeRunBinary = RTSCOPE_RUN_BINARY;
#else
inline constexpr const char* kRtscopeRunBinary = "";
#endif

// A run config with one model, a tiny decoder (1 layer, d_model 64, vocab
// 128) on the cpu plugin, streaming 8 tokens after a 4-token prompt.
inline std::string tiny_decoder_config(std::string_view kernel_specialization, int warmup,
                                       int iterations) {
  return std::string(R"(plugins:
  - name: cpu
models:
  tiny:
    builtin: decoder
    params: {layers: 1, d_model: 64, heads: 2, vocab: 128, max_seq: 32, seed: 7}
    backends: [cpu]
runtime:
  kernel_specialization: )")
      .append(kernel_specialization)
      .append(R"(
  graph_capture: disabled
run:
  - model: tiny
    workload: {kind: stream, prompt: 4, tokens: 8}
    warmup: )")
      .append(std::to_string(warmup))
      .append("\n    iterations: ")
      .append(std::to_string(iterations))
      .append("\n");
}

class RtscopeRun : public rtscope::testing::ProgramTest {
 protected:
  RtscopeRun() : ProgramTest(kRtscopeRunBinary) {}
  void SetUp() override {
    if (binary_.empty()) GTEST_SKIP() << "rtscope-run is not built (RTSCOPE_RUN_BINARY undefined)";
  }
};

}  // namespace rtscope_run_test
