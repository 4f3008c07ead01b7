// libFuzzer target: ONNX model bytes through the importer (protobuf parse,
// checker, shape inference, opset checks, initializers, folding, mapping,
// validate). A hostile file must be an rtscope::Error, never a crash, a
// hang or a wrapped size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rtscope/error.hpp"
#include "rtscope/onnx_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    // A folder that does not exist: external data resolves to nothing
    // rather than to whatever lies next to the fuzzer.
    rtscope::import_onnx_bytes(data, size, "/nonexistent-rtscope-fuzz/model.onnx");
  } catch (const rtscope::Error& e) {
    // The importer's safety net turns an unchecked exception into an
    // error; for the fuzzer it is still a finding.
    if (std::string_view(e.what()).find("internal error while importing") !=
        std::string_view::npos) {
      std::abort();
    }
  }
  return 0;
}
