// Engine blobs: what serialize_engine writes and deserialize_engine reads.
//
// Layout (little-endian):
//   bytes 0..7   magic "RTSTEST\0"
//   bytes 8..11  u32 format version (kBlobFormatVersion)
//   then         string plugin version, then the GraphDef
// A blob of another format or plugin version is refused with
// RTS_ERROR_VERSION; anything malformed with RTS_ERROR_INVALID_ARGUMENT.
#pragma once

#include <cstdint>
#include <string>

#include "graph_def.hpp"

namespace rtscope_testing {

inline constexpr uint32_t kBlobFormatVersion = 1;

std::string serialize_graph(const GraphDef& graph);
GraphDef deserialize_graph(const void* data, uint64_t size);

}  // namespace rtscope_testing
