// The engine blob every kit plugin writes: a versioned, checksummed copy of the
// engine's graph.
//
//   magic (8 bytes, per plugin) | u32 format version | string plugin
//   version | graph (name, inputs, outputs, constants with bytes, values,
//   aliases, nodes) | u64 FNV-1a of everything before it
//
// Integers are written in the machine's byte order, as are constants; the
// host's engine-file header ties a blob to its device fingerprint anyway.
#pragma once

#include <cstdint>

#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

// What tells one plugin's blobs from another's and from older builds.
struct EngineBlobFormat {
  const char* backend;  // "cpu": names the blob in error messages
  char magic[8];
  uint32_t format_version;
  const char* plugin_version;  // a blob is read only by the same version
};

void write_engine_blob(const rts_blob_sink& sink, const EngineBlobFormat& format,
                       const GraphDesc& graph);

// Checks magic, format version, plugin version and checksum (Error with
// RTS_ERROR_VERSION or RTS_ERROR_INVALID_ARGUMENT) and returns the graph.
GraphDesc read_engine_blob(const EngineBlobFormat& format, const void* data, uint64_t size);

}  // namespace rtscope::kit
