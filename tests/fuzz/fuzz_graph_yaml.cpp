// libFuzzer target: graph YAML text through the public loader, which parses
// and validates (shapes, dtypes, sizes, op attributes, cycles). A bad graph
// must be an rtscope::Error, never a crash, a hang or a wrapped size.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rtscope/error.hpp"
#include "rtscope/graph_yaml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    // A directory that does not exist: relative weight files resolve to
    // nothing rather than to whatever lies next to the fuzzer.
    rtscope::parse_graph_yaml(text, "/nonexistent-rtscope-fuzz/graph.yaml");
  } catch (const rtscope::Error&) {
  }
  return 0;
}
