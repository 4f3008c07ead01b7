// rmsnorm and layernorm over the last dim, one workgroup per row with
// shared-memory reductions.
#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

void encode_norm(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const NodeDesc& node = args.node;
  const bool layer = node.op == "layernorm";
  NormPush push{};
  push.mode = layer ? 1 : 0;
  push.width = to_u32(node, x.dim(-1), "row width");
  push.rows = push.width > 0 ? to_u32(node, x.elements() / push.width, "row count") : 0;
  push.eps = static_cast<float>(node.attr_real("eps", 1e-5));
  to_u32(node, x.elements(), "element count");
  if (push.rows == 0) return;
  const BufferRegion& beta = layer ? args.inputs[2].region : args.inputs[1].region;
  args.commands.dispatch(
      args.pipelines[0],
      {{x.region}, {args.inputs[1].region}, {beta}, {args.outputs[0].region, true}}, push,
      row_groups(push.rows, args.caps));
}

const OpSpec kNormOps[] = {
    shader_kernel("layernorm", encode_norm, "norm", ShaderKind::kFloat,
                  "vulkan.layernorm.workgroup_per_row"),
    shader_kernel("rmsnorm", encode_norm, "norm", ShaderKind::kFloat,
                  "vulkan.rmsnorm.workgroup_per_row"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kNorm> = kNormOps;

}  // namespace rtscope::vulkan
