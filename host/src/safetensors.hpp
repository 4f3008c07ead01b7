// Reading the header of a safetensors file (huggingface/safetensors format):
// an 8-byte little-endian header length, a JSON header mapping tensor names
// to {dtype, shape, data_offsets}, then the tensors' bytes.
//
// Every number in the header comes from outside and is checked before it
// is used: the header length against the file and a cap, shapes and byte
// sizes without wrap-around, offsets against the data section, tensors
// against each other (no overlap) and names for duplicates. Errors are one
// InputError line naming the file and, where there is one, the tensor.
//
//   auto file = MappedFile::open(path);
//   SafetensorsHeader header = parse_safetensors(file->bytes(), path.string());
//   const SafetensorsTensor& t = header.tensors.at("model.norm.weight");
//   std::span<const unsigned char> bytes = file->bytes().subspan(t.offset, t.size);
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace rtscope {

struct SafetensorsTensor {
  std::string dtype;           // as written: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // empty for a scalar
  uint64_t offset = 0;         // of the first byte, from the start of the file
  uint64_t size = 0;           // bytes
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsTensor> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__", string values
};

// The largest header accepted (the reference implementation's limit too).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

// Bytes per element of a safetensors dtype name; 0 for a name the format
// does not define.
std::size_t safetensors_dtype_size(const std::string& dtype);

// Parses and checks the header of the whole file `file`; `origin` (the
// path) starts every error message. Throws InputError.
SafetensorsHeader parse_safetensors(std::span<const unsigned char> file, const std::string& origin);

}  // namespace rtscope
