// Output bindings of an execute: shape, dtype and host storage of each
// output. Both plugins write their results into host memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

size_t tensor_bytes(const rts_tensor& tensor);

// Writes `dtype`, rank and `dims` into output binding `index` and makes
// sure it has enough host storage, asking the host's allocator where it
// does not. Returns whether the allocator provided the storage. Throws
// Error naming the output (`name`) on a failure. A preallocated binding in
// device memory is refused unless `device_outputs` (the plugin writes
// device memory from its device_alloc itself).
bool bind_output(uint32_t index, const std::string& name, rts_dtype dtype,
                 std::span<const int64_t> dims, const rts_execute_args& args,
                 bool device_outputs = false);

// bind_output for every output of `engine` (anything with values() and
// output_values(), each value having a name and a dtype), with the shapes
// `output_dims[o]`. Returns how many outputs the allocator provided.
template <typename Engine>
uint64_t bind_outputs(const Engine& engine, std::span<const Dims* const> output_dims,
                      const rts_execute_args& args, bool device_outputs = false) {
  uint64_t allocated = 0;
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const auto& value = engine.values()[engine.output_values()[o]];
    if (bind_output(o, value.name, value.dtype, *output_dims[o], args, device_outputs)) {
      ++allocated;
    }
  }
  return allocated;
}

}  // namespace rtscope::kit
