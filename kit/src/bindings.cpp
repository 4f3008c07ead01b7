#include "rtscope/kit/bindings.hpp"

#include "rtscope/kit/error.hpp"
#include "rtscope/kit/output_binding.hpp"

namespace rtscope::kit {

void check_binding_counts(const GraphDesc& graph, const rts_execute_args& args) {
  if (args.n_inputs != graph.inputs.size() || args.n_outputs != graph.outputs.size()) {
    fail_invalid("engine '", graph.name, "' binds ", graph.inputs.size(), " inputs and ",
                 graph.outputs.size(), " outputs, got ", args.n_inputs, " and ", args.n_outputs);
  }
  if ((args.n_inputs > 0 && args.inputs == nullptr) ||
      (args.n_outputs > 0 && args.outputs == nullptr)) {
    fail_invalid("execute arguments have NULL input or output arrays");
  }
}

void check_input_bindings(const GraphDesc& graph, const rts_execute_args& args,
                          const char* host_only_backend) {
  check_binding_counts(graph, args);
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    const rts_tensor& tensor = args.inputs[i];
    const ValueDesc& declared = graph.inputs[i];
    if (tensor.name != nullptr && declared.name != tensor.name) {
      fail_invalid("input ", i, " is bound as '", tensor.name, "' but the engine's input ", i,
                   " is '", declared.name, "'");
    }
    if (tensor.dtype != declared.dtype) {
      fail_invalid("input '", declared.name, "': bound tensor is ", dtype_name(tensor.dtype),
                   " but the engine expects ", declared.type_str());
    }
    if (tensor.rank > RTS_MAX_RANK) {
      fail_invalid("input '", declared.name, "': rank ", tensor.rank, " exceeds RTS_MAX_RANK");
    }
    if (host_only_backend != nullptr && tensor.residency != RTS_RESIDENCY_HOST) {
      fail(RTS_ERROR_UNSUPPORTED, "input '", declared.name, "': the ", host_only_backend,
           " plugin reads host memory only");
    }
    for (uint32_t axis = 0; axis < tensor.rank; ++axis) {
      if (tensor.dims[axis] < 0) {
        fail_invalid("input '", declared.name, "': bound shape ",
                     shape_str({tensor.dims, tensor.rank}), " has a negative dim");
      }
    }
    const size_t bytes = tensor_bytes(tensor);
    if (bytes > 0 && (tensor.data == nullptr || tensor.size_bytes < bytes)) {
      fail_invalid("input '", declared.name, "': ", dtype_name(tensor.dtype),
                   shape_str({tensor.dims, tensor.rank}), " needs ", bytes,
                   " bytes but the binding holds ", tensor.data ? tensor.size_bytes : 0);
    }
  }
}

}  // namespace rtscope::kit
