// Device tensors the shaders cannot use in place. A device without 16-bit
// storage keeps f16 values as f32, but an f16 tensor from device_alloc
// holds f16 bytes; such a binding is copied into host memory (a shadow)
// before the execute and runs through the ordinary staging path, and an
// output shadow is copied back into its device memory afterwards. Correct,
// and as slow as host residency: devices with 16-bit storage never get here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

class DeviceTensors;

class DeviceShadows {
 public:
  // Whether a device-resident binding needs a shadow: (is_output, index).
  using Needs = std::function<bool(bool is_output, uint32_t index)>;

  // Builds shadowed arguments when some binding needs a shadow, reading
  // shadowed inputs from the device; false (and nothing done) otherwise.
  // Throws Error naming a binding whose memory is not live.
  bool prepare(const rts_execute_args& args, DeviceTensors& tensors, const Needs& needs);
  // The arguments to execute with after prepare() returned true.
  const rts_execute_args& args() const { return args_; }
  // Writes shadowed outputs back to their device memory and hands every
  // output's shape (and any storage the host's allocator gave) back to
  // `original`.
  void finish(const rts_execute_args& original, DeviceTensors& tensors);
  // Bytes copied between the device and shadows by the last execute.
  uint64_t bytes() const { return bytes_; }

 private:
  rts_execute_args args_{};
  std::vector<rts_tensor> inputs_;
  std::vector<rts_tensor> outputs_;
  std::vector<uint8_t> output_shadowed_;
  std::vector<std::vector<std::byte>> storage_;
  uint64_t bytes_ = 0;
};

}  // namespace rtscope::vulkan
