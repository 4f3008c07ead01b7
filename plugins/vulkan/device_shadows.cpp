#include "device_shadows.hpp"

#include "device_tensors.hpp"
#include "error.hpp"
#include "rtscope/kit/output_binding.hpp"

namespace rtscope::vulkan {
namespace {

bool device_resident(const rts_tensor& tensor) {
  return tensor.residency != RTS_RESIDENCY_HOST && tensor.data != nullptr;
}

const char* binding_name(const rts_tensor& tensor) {
  return tensor.name != nullptr ? tensor.name : "(unnamed)";
}

}  // namespace

bool DeviceShadows::prepare(const rts_execute_args& args, DeviceTensors& tensors,
                            const Needs& needs) {
  bool any = false;
  for (uint32_t i = 0; i < args.n_inputs && !any; ++i) {
    any = device_resident(args.inputs[i]) && needs(false, i);
  }
  for (uint32_t o = 0; o < args.n_outputs && !any; ++o) {
    any = device_resident(args.outputs[o]) && needs(true, o);
  }
  if (!any) return false;

  args_ = args;
  inputs_.assign(args.inputs, args.inputs + args.n_inputs);
  outputs_.assign(args.outputs, args.outputs + args.n_outputs);
  output_shadowed_.assign(args.n_outputs, 0);
  storage_.clear();
  storage_.reserve(args.n_inputs + args.n_outputs);
  bytes_ = 0;
  auto shadow = [&](rts_tensor& tensor, bool read) {
    if (!tensors.find(tensor.data)) {
      fail_invalid("'", binding_name(tensor),
                   "': bound as device memory, but it is not live "
                   "device memory of this device");
    }
    std::vector<std::byte>& host = storage_.emplace_back(tensor.size_bytes);
    if (read) {
      tensors.copy(tensor.data, host.data(), host.size(), false);
      bytes_ += host.size();
    }
    tensor.data = host.data();
    tensor.residency = RTS_RESIDENCY_HOST;
  };
  for (uint32_t i = 0; i < args.n_inputs; ++i) {
    if (device_resident(inputs_[i]) && needs(false, i)) shadow(inputs_[i], true);
  }
  for (uint32_t o = 0; o < args.n_outputs; ++o) {
    if (!device_resident(outputs_[o]) || !needs(true, o)) continue;
    shadow(outputs_[o], false);
    output_shadowed_[o] = 1;
  }
  args_.inputs = inputs_.data();
  args_.outputs = outputs_.data();
  return true;
}

void DeviceShadows::finish(const rts_execute_args& original, DeviceTensors& tensors) {
  for (uint32_t o = 0; o < original.n_outputs; ++o) {
    rts_tensor& target = original.outputs[o];
    const rts_tensor& written = outputs_[o];
    if (!output_shadowed_[o]) {
      target = written;  // includes storage from the host's allocator
      continue;
    }
    target.dtype = written.dtype;
    target.rank = written.rank;
    std::copy(written.dims, written.dims + written.rank, target.dims);
    const size_t bytes = kit::tensor_bytes(written);
    tensors.copy(target.data, written.data, bytes, true);
    bytes_ += bytes;
  }
}

}  // namespace rtscope::vulkan
