// libFuzzer target: the runtime cache file decoder on arbitrary bytes, both
// the whole-image decode and the piecewise one a save uses. Either may
// reject the input; neither may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "cache_file_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace format = rtscope::cache_format;
  const std::span<const uint8_t> bytes(data, size);
  const format::Decoded decoded = format::decode(bytes);
  // A second decode that is handed the first's entries as already known
  // takes the payload-sharing path.
  format::decode(bytes, &decoded.entries);
  format::header_problem(bytes);
  format::decode_by_reads(
      size,
      [&](uint64_t offset, void* out, std::size_t length) {
        if (offset > size || length > size - offset) return false;
        std::memcpy(out, data + offset, length);
        return true;
      },
      &decoded.entries);
  // Whatever was accepted must encode again.
  format::encode(decoded.entries);
  return 0;
}
