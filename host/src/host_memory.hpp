// How much memory this machine has, and byte counts written for people.
// Sizes asked for by files and configs are checked against it before
// anything is allocated (Tensor::empty, the built-in templates).
#pragma once

#include <cstdint>
#include <string>

namespace rtscope::detail {

// RAM plus swap, in bytes: no host allocation larger than this can ever be
// filled. UINT64_MAX when the system does not say.
uint64_t host_memory_bytes();

// "4398046511104 bytes (4.0 TiB)": exact for scripts, scaled for people.
std::string describe_bytes(uint64_t bytes);

}  // namespace rtscope::detail
