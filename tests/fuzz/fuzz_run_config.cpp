// libFuzzer target: rtscope-run config YAML (parse_run_config). A bad config
// must be an rtscope::Error, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rtscope/error.hpp"
#include "run_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    rtscope::runner::parse_run_config(text, "/nonexistent-rtscope-fuzz/run.yaml");
  } catch (const rtscope::Error&) {
  }
  return 0;
}
