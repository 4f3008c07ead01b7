#pragma once
// The shape part of a two-operand broadcasting push (BinaryPush,
// ComparePush): merged rank, dims and each operand's strides.

#include "kernels/op_spec.hpp"
#include "kernels/strided_layout.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {

template <class Push>
void set_broadcast_pair(const NodeDesc& node, const TensorArg& a, const TensorArg& b,
                        const TensorArg& out, Push& push) {
  const auto layout = StridedLayout<2>::merge(
      out.dims, {broadcast_strides(a.dims, out.dims), broadcast_strides(b.dims, out.dims)});
  if (layout.dims.size() > kMaxShaderRank) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": broadcast pattern needs rank ", layout.dims.size(),
         " after merging dims; the shader handles ", kMaxShaderRank);
  }
  push.rank = static_cast<uint32_t>(layout.dims.size());
  for (size_t i = 0; i < layout.dims.size(); ++i) {
    push.dims[i] = static_cast<uint32_t>(layout.dims[i]);
    push.a_strides[i] = to_u32(node, layout.strides[0][i], "stride");
    push.b_strides[i] = to_u32(node, layout.strides[1][i], "stride");
  }
}

}  // namespace rtscope::vulkan
