#include "rtscope/kit/output_binding.hpp"

#include <algorithm>

#include "rtscope/kit/error.hpp"

namespace rtscope::kit {

size_t tensor_bytes(const rts_tensor& tensor) {
  return static_cast<size_t>(element_count({tensor.dims, tensor.rank})) * dtype_size(tensor.dtype);
}

bool bind_output(uint32_t index, const std::string& name, rts_dtype dtype,
                 std::span<const int64_t> dims, const rts_execute_args& args, bool device_outputs) {
  rts_tensor& tensor = args.outputs[index];
  tensor.dtype = dtype;
  tensor.rank = static_cast<uint32_t>(dims.size());
  std::copy(dims.begin(), dims.end(), tensor.dims);
  const size_t bytes = tensor_bytes(tensor);
  const bool has_allocator = args.allocator != nullptr && args.allocator->allocate != nullptr;
  // An empty output (e.g. nonzero finding nothing) still gets storage
  // from the allocator when the host bound none, so the host can tell an
  // empty result from an output that was never written.
  const bool fits =
      tensor.data != nullptr ? tensor.size_bytes >= bytes : bytes == 0 && !has_allocator;
  if (fits) {
    if (tensor.data != nullptr && tensor.residency != RTS_RESIDENCY_HOST && !device_outputs) {
      fail(RTS_ERROR_UNSUPPORTED, "output '", name,
           "': this plugin writes host memory only (device-resident outputs are not "
           "implemented)");
    }
    return false;
  }
  if (!has_allocator) {
    fail_invalid("output '", name, "': ", dtype_name(dtype), shape_str(dims), " needs ", bytes,
                 " bytes, the binding holds ", tensor.data ? tensor.size_bytes : 0,
                 " and no output allocator was given");
  }
  if (args.allocator->allocate(args.allocator->user, index, &tensor) != 0) {
    fail(RTS_ERROR_OUT_OF_MEMORY, "output '", name, "': the host's allocator failed for ", bytes,
         " bytes");
  }
  if (tensor.data == nullptr || tensor.size_bytes < bytes ||
      tensor.residency != RTS_RESIDENCY_HOST) {
    fail(RTS_ERROR_INTERNAL, "output '", name, "': the host's allocator returned ",
         tensor.size_bytes, " bytes of ",
         tensor.residency == RTS_RESIDENCY_HOST ? "host" : "device", " memory, needed ", bytes,
         " bytes of host memory");
  }
  return true;
}

}  // namespace rtscope::kit
