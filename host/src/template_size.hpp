// The total a built-in template would allocate (weights and state), summed
// without wrapping around and checked before the graph is built: parameters
// such as d_model 1000000 then fail in one line naming the total and the
// largest tensor, rather than with std::bad_alloc deep inside a build or
// after tens of gigabytes were already filled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rtscope/dtype.hpp"

namespace rtscope {

class TemplateSize {
 public:
  // `origin` prefixes every error ("builtin:decoder").
  TemplateSize(std::string origin, DType dtype) : origin_(std::move(origin)), dtype_(dtype) {}

  // `copies` tensors named `name` of shape `dims` (dims >= 1), in dtype.
  void add(const std::string& name, std::vector<int64_t> dims, int64_t copies = 1);
  // Throws InputError when the total overflows or exceeds this machine's
  // memory (RAM and swap).
  void check() const;

 private:
  std::string origin_;
  DType dtype_;
  std::optional<uint64_t> total_ = 0;  // bytes; nullopt once it overflowed
  std::string largest_;                // "'layers.*.ffn.w_up' f32[4,16]"
  double largest_bytes_ = 0;
};

}  // namespace rtscope
