#include "template_size.hpp"

#include <fmt/format.h>

#include "host_memory.hpp"
#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope {

void TemplateSize::add(const std::string& name, std::vector<int64_t> dims, int64_t copies) {
  if (copies == 0) return;
  const uint64_t width = dtype_size(dtype_);
  double approximate = static_cast<double>(width);
  std::optional<uint64_t> bytes = width;
  for (int64_t dim : dims) {
    approximate *= static_cast<double>(dim);
    if (bytes) bytes = checked::mul<uint64_t>(*bytes, static_cast<uint64_t>(dim));
  }
  if (approximate > largest_bytes_) {
    largest_bytes_ = approximate;
    largest_ = fmt::format("'{}' {}{}", name, to_string(dtype_), shape_to_string(dims));
  }
  if (total_ && bytes) {
    const auto all = checked::mul<uint64_t>(*bytes, static_cast<uint64_t>(copies));
    total_ = all ? checked::add<uint64_t>(*total_, *all) : std::nullopt;
  } else {
    total_ = std::nullopt;
  }
}

void TemplateSize::check() const {
  if (!total_) {
    throw InputError(fmt::format(
        "{}: its weights and state need more than 2^64 bytes (the size overflows); the largest "
        "tensor is {}; use smaller parameters",
        origin_, largest_));
  }
  const uint64_t limit = detail::host_memory_bytes();
  if (*total_ > limit) {
    throw InputError(fmt::format(
        "{}: its weights and state need {}, more than this machine's {} of memory (RAM and "
        "swap); the largest tensor is {}; use smaller parameters",
        origin_, detail::describe_bytes(*total_), detail::describe_bytes(limit), largest_));
  }
}

}  // namespace rtscope
