// rtscope-cache's commands on a remote tier (redis://HOST:PORT/NAMESPACE):
//
//   push FILE URL   store FILE's valid entries in the remote tier (SET NX:
//                   entries already there are kept), to seed a fleet
//   pull URL FILE   merge every valid entry of the remote tier into FILE
//   info URL        entries per plugin and device fingerprint
//
// They use the same client, keys and validation as RuntimeCache's remote
// tier; unlike it, a fault is an error (exit 2), not a warning.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cache_file_format.hpp"

namespace rtscope::cache_tool {

int remote_push(const cache_format::Decoded& file, const std::string& file_name,
                const std::string& url, uint64_t max_bytes);

// `merge_into_file` merges the pulled entries into the file under its lock
// and returns how many entries the file holds after.
int remote_pull(const std::string& url, const std::string& file_name, uint64_t max_bytes,
                const std::function<uint64_t(const cache_format::EntryMap&)>& merge_into_file);

int remote_info(const std::string& url, uint64_t max_bytes);

}  // namespace rtscope::cache_tool
