// Output bindings of an execute: shape, dtype and host storage of each
// output (results are staged back into host memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

class Engine;

size_t tensor_bytes(const rts_tensor& tensor);

// Writes dtype, rank and dims (`output_dims[o]`) into every output binding
// and makes sure each has enough host storage, asking the host's allocator
// where it does not. Returns how many outputs the allocator provided.
// Throws Error naming the output on a failure.
uint64_t bind_outputs(const Engine& engine, std::span<const Dims* const> output_dims,
                      const rts_execute_args& args);

}  // namespace rtscope::vulkan
