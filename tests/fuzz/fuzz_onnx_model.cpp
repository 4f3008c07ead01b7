// libFuzzer target: ONNX model bytes through the importer (protobuf parse,
// checker, shape inference, opset checks, initializers, folding, mapping,
// validate). A hostile file must be an rtscope::Error, never a crash, a
// hang or a wrapped size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rtscope/error.hpp"
#include "rtscope/onnx_import.hpp"

// A folder that does not exist: external data resolves to nothing rather
// than to whatever lies next to the fuzzer.
constexpr std::string_view kPath = "/nonexistent-rtscope-fuzz/model.onnx";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    rtscope::import_onnx_bytes(data, size, std::string(kPath));
  } catch (const rtscope::Error& e) {
    // The importer's safety net turns an unchecked exception into an
    // error; for the fuzzer it is still a finding. Its message starts with
    // the path: the same words inside a message can come from the file
    // (an op named so, quoted by a legitimate error).
    const std::string_view message = e.what();
    if (message.starts_with(kPath) &&
        message.substr(kPath.size()).starts_with(": internal error while importing")) {
      std::abort();
    }
  }
  return 0;
}
