#pragma once
// Two-operand broadcasting shaders (binary.comp, compare.comp): the shape
// part of their push (BinaryPush, ComparePush) and their dispatch.

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

// Dispatches the node's shader on `a` and `b` into output 0, one
// invocation per output element; `push` comes with its op set and gets the
// count and the broadcast shape here.
template <class Push>
void dispatch_broadcast_pair(const EncodeArgs& args, const TensorArg& a, const TensorArg& b,
                             Push& push) {
  const TensorArg& out = args.outputs[0];
  push.count = to_u32(args.node, out.elements(), "element count");
  if (push.count == 0) return;
  set_broadcast_pair(args.node, a, b, out, push);
  args.commands.dispatch(args.pipelines[0], {{a.region}, {b.region}, {out.region, true}}, push,
                         linear_groups(push.count, args.caps));
}

}  // namespace rtscope::vulkan
