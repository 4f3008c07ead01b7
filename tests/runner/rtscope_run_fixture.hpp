// Runs the built rtscope-run binary in a per-test temporary folder and
// captures its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
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

// The rtscope-run the tests start: the one built beside them, unless the
// environment's RTSCOPE_RUN_BINARY names another (a build moved elsewhere,
// such as a GPU bundle, scripts/gpu-bundle.sh).
inline std::string rtscope_run_binary() {
  const char* moved = std::getenv("RTSCOPE_RUN_BINARY");
  if (moved != nullptr && *moved != '\0' && kRtscopeRunBinary[0] != '\0') return moved;
  return kRtscopeRunBinary;
}

// One built-in decoder streamed on one plugin, as a run config.
struct StreamRun {
  std::string plugin{};
  std::string model{};    // the model's and the run's name
  std::string params{};   // the decoder's params, a YAML flow map
  std::string runtime{};  // lines of the runtime section ("" for none)
  int prompt = 4;
  int tokens = 8;
  int warmup = 1;
  int iterations = 4;
};

inline std::string stream_config(const StreamRun& r) {
  return "plugins:\n  - name: " + r.plugin + "\nmodels:\n  " + r.model +
         ":\n    builtin: decoder\n    params: " + r.params + "\n    backends: [" + r.plugin +
         "]\n" + (r.runtime.empty() ? "" : "runtime:\n" + r.runtime) +
         "run:\n  - model: " + r.model +
         "\n    workload: {kind: stream, prompt: " + std::to_string(r.prompt) +
         ", tokens: " + std::to_string(r.tokens) + "}\n    warmup: " + std::to_string(r.warmup) +
         "\n    iterations: " + std::to_string(r.iterations) + "\n";
}

// A run config with one model, a tiny decoder (1 layer, d_model 64, vocab
// 128) on the cpu plugin, streaming 8 tokens after a 4-token prompt.
inline std::string tiny_decoder_config(std::string_view kernel_specialization, int warmup,
                                       int iterations) {
  return stream_config(
      {.plugin = "cpu",
       .model = "tiny",
       .params = "{layers: 1, d_model: 64, heads: 2, vocab: 128, max_seq: 32, seed: 7}",
       .runtime = "  kernel_specialization: " + std::string(kernel_specialization) +
                  "\n  graph_capture: disabled\n",
       .warmup = warmup,
       .iterations = iterations});
}

class RtscopeRun : public rtscope::testing::ProgramTest {
 protected:
  RtscopeRun() : ProgramTest(rtscope_run_binary()) {}
  void SetUp() override {
    if (binary_.empty()) GTEST_SKIP() << "rtscope-run is not built (RTSCOPE_RUN_BINARY undefined)";
  }
};

}  // namespace rtscope_run_test
