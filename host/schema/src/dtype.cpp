// Element type names and sizes.
#include "rtscope/dtype.hpp"

#include <array>
#include <string>

#include "rtscope/error.hpp"

namespace rtscope {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
  bool floating;
};

// Indexed by the enum value.
constexpr std::array<DTypeInfo, 5> kDTypes = {{
    {DType::f32, "f32", 4, true},
    {DType::f16, "f16", 2, true},
    {DType::i32, "i32", 4, false},
    {DType::i64, "i64", 8, false},
    {DType::boolean, "bool", 1, false},
}};

const DTypeInfo& info(DType dtype) {
  const auto index = static_cast<std::size_t>(dtype);
  if (index >= kDTypes.size()) {
    throw InputError("invalid dtype value " + std::to_string(index) +
                     "; valid dtypes are f32, f16, i32, i64, bool");
  }
  return kDTypes[index];
}

}  // namespace

std::size_t dtype_size(DType dtype) { return info(dtype).size; }

std::string_view to_string(DType dtype) { return info(dtype).name; }

DType dtype_from_string(std::string_view name) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.name == name) return entry.dtype;
  }
  std::string valid;
  for (const DTypeInfo& entry : kDTypes) {
    if (!valid.empty()) valid += ", ";
    valid += entry.name;
  }
  throw InputError("unknown dtype '" + std::string(name) + "'; valid dtypes are " + valid);
}

bool is_floating(DType dtype) { return info(dtype).floating; }

}  // namespace rtscope
