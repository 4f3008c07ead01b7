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
      family == "matvec" || family == "matvec_t" || family == "nonzero" ||
      family == "masked_select" || family == "reduce" || family == "log_softmax" ||
      family == "nll_loss") {
    return WorkgroupShape::kRows;
  }
  if (family == "attention_split") return WorkgroupShape::kRows;
  return WorkgroupShape::kLinear;
}

uint32_t shape_constant_count(std::string_view family) {
  // Mirrors the SHAPE_CONSTANT declarations of each shader.
  if (family == "matmul" || family == "matmul_coop") return 5;  // m n k flags batches
  if (family == "matvec" || family == "matvec_t" || family.starts_with("skinny_coop")) {
    return 4;  // m n k flags
  }
  if (family == "attention") return 4;        // rows seq cache_len head_dim
  if (family == "attention_split") return 4;  // as attention
  if (family == "rope") return 4;             // pairs seq heads head_dim
  if (family == "softmax" || family == "log_softmax" || family == "argmax") {
    return 3;  // lanes axis_len inner
  }
  if (family == "norm") return 3;    // mode rows width
  if (family == "binary") return 3;  // op rank count
  if (family == "unary") return 2;   // op count
  return 0;
}

}  // namespace rtscope::vulkan
