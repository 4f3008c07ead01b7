// Checks of a built-in template's parameters, shared by the `mlp` and
// `decoder` templates so that both word their errors alike: every message
// starts with the template's origin ("builtin:decoder: layers must be >= 1;
// got 0").
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "rtscope/dtype.hpp"
#include "rtscope/error.hpp"

namespace rtscope {

class TemplateParams {
 public:
  explicit TemplateParams(const char* origin) : origin_(origin) {}

  // Throws InputError "<origin>: <message>".
  [[noreturn]] void fail(const std::string& message) const {
    throw InputError(fmt::format("{}: {}", origin_, message));
  }
  void require_positive(const char* name, int64_t value) const {
    if (value < 1) fail(fmt::format("{} must be >= 1; got {}", name, value));
  }
  // Templates build float models only.
  void require_float(DType dtype) const {
    if (dtype != DType::f32 && dtype != DType::f16) {
      fail(fmt::format("dtype must be f32 or f16; got {}", to_string(dtype)));
    }
  }

 private:
  const char* origin_;
};

}  // namespace rtscope
