#include "shader_registry.hpp"

#include "error.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {

const ShaderBlob& find_shader(std::string_view name) {
  for (const ShaderBlob& blob : embedded_shaders()) {
    if (name == blob.name) return blob;
  }
  fail(RTS_ERROR_INTERNAL, "vulkan: no embedded shader named '", name, "'");
}

std::string_view shader_family(std::string_view variant) {
  const size_t underscore = variant.rfind('_');
  return underscore == std::string_view::npos ? variant : variant.substr(0, underscore);
}

WorkgroupShape workgroup_shape(std::string_view family) {
  if (family == "matmul") return WorkgroupShape::kTiles;
  if (family == "softmax" || family == "norm" || family == "attention" || family == "argmax" ||
      family == "matvec" || family == "nonzero" || family == "masked_select") {
    return WorkgroupShape::kRows;
  }
  return WorkgroupShape::kLinear;
}

}  // namespace rtscope::vulkan
