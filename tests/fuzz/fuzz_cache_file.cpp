// libFuzzer target: the runtime cache file decoder on arbitrary bytes, with
// and without the saver's known entries. It may reject the input; it may not
// crash, hang, read out of bounds, do more than linear work, or let the two
// decodes disagree.
#include <cstddef>
#include <cstdint>
#include <span>

#include "cache_file_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace format = rtscope::cache_format;
  const std::span<const uint8_t> bytes(data, size);
  const format::Decoded decoded = format::decode(bytes);
  // A second decode that is handed the first's entries as already known
  // takes the payload-sharing path; it must accept exactly the same entries.
  const format::Decoded again = format::decode(bytes, &decoded.entries);
  if (again.entries.size() != decoded.entries.size() || again.rejected != decoded.rejected) {
    __builtin_trap();
  }
  // Decoding is linear: about 4 bytes of work per input byte, plus a fixed
  // allowance for resynchronizing.
  if (decoded.work_bytes > 4 * static_cast<uint64_t>(size) + 65536) __builtin_trap();
  format::header_problem(bytes);
  // Whatever was accepted must encode again.
  format::encode(decoded.entries);
  return 0;
}
