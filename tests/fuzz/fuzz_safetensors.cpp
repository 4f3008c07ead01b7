// libFuzzer target: the safetensors header reader on arbitrary bytes. It
// may reject the input with an InputError; it may not crash, read out of
// bounds or accept a tensor whose bytes leave the file or overlap another's.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "rtscope/error.hpp"
#include "safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    const rtscope::SafetensorsHeader header =
        rtscope::parse_safetensors(std::span<const unsigned char>(data, size), "fuzz.safetensors");
    uint64_t previous_end = 0;
    std::vector<std::pair<uint64_t, uint64_t>> spans;
    for (const auto& [name, tensor] : header.tensors) {
      if (tensor.offset > size || tensor.size > size - tensor.offset) __builtin_trap();
      if (tensor.size > 0) spans.emplace_back(tensor.offset, tensor.offset + tensor.size);
    }
    std::sort(spans.begin(), spans.end());
    for (const auto& [begin, end] : spans) {
      if (begin < previous_end) __builtin_trap();
      previous_end = end;
    }
  } catch (const rtscope::InputError&) {
  }
  return 0;
}
