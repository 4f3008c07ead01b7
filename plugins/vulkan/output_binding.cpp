#include "output_binding.hpp"

#include <algorithm>

#include "engine.hpp"
#include "error.hpp"

namespace rtscope::vulkan {

size_t tensor_bytes(const rts_tensor& tensor) {
  return static_cast<size_t>(element_count({tensor.dims, tensor.rank})) * dtype_size(tensor.dtype);
}

uint64_t bind_outputs(const Engine& engine, std::span<const Dims* const> output_dims,
                      const rts_execute_args& args) {
  uint64_t allocated = 0;
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    const EngineValue& value = engine.values()[engine.output_values()[o]];
    const Dims& dims = *output_dims[o];
    rts_tensor& tensor = args.outputs[o];
    tensor.dtype = value.dtype;
    tensor.rank = static_cast<uint32_t>(dims.size());
    std::copy(dims.begin(), dims.end(), tensor.dims);
    const size_t bytes = tensor_bytes(tensor);
    if (bytes == 0 || (tensor.data != nullptr && tensor.size_bytes >= bytes)) {
      if (tensor.data != nullptr && tensor.residency != RTS_RESIDENCY_HOST) {
        fail(RTS_ERROR_UNSUPPORTED, "output '", value.name,
             "': the vulkan plugin writes host memory only (device residency is not implemented "
             "yet)");
      }
      continue;
    }
    if (args.allocator == nullptr || args.allocator->allocate == nullptr) {
      fail_invalid("output '", value.name, "': ", dtype_name(value.dtype), shape_str(dims),
                   " needs ", bytes, " bytes, the binding holds ",
                   tensor.data ? tensor.size_bytes : 0, " and no output allocator was given");
    }
    if (args.allocator->allocate(args.allocator->user, o, &tensor) != 0) {
      fail(RTS_ERROR_OUT_OF_MEMORY, "output '", value.name, "': the host's allocator failed for ",
           bytes, " bytes");
    }
    if (tensor.data == nullptr || tensor.size_bytes < bytes ||
        tensor.residency != RTS_RESIDENCY_HOST) {
      fail(RTS_ERROR_INTERNAL, "output '", value.name, "': the host's allocator returned ",
           tensor.size_bytes, " bytes of ",
           tensor.residency == RTS_RESIDENCY_HOST ? "host" : "device", " memory, needed ", bytes,
           " bytes of host memory");
    }
    ++allocated;
  }
  return allocated;
}

}  // namespace rtscope::vulkan
