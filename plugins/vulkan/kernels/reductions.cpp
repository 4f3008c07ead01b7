// softmax and argmax along any axis (the tensor viewed as [outer, axis,
// inner]), one workgroup per lane with shared-memory reductions.
#include <type_traits>

#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

// One workgroup per lane of the [outer, axis, inner] view; softmax and
// argmax share the push layout. argmax of an empty axis still writes its
// lanes (index 0); softmax of one has nothing to write.
template <typename Push>
void encode_lanes(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const NodeDesc& node = args.node;
  const AxisView view = view_around_axis(node, x.dims);
  Push push{};
  push.lanes = to_u32(node, view.outer * view.inner, "lane count");
  push.axis_len = to_u32(node, view.length, "axis length");
  push.inner = to_u32(node, view.inner, "inner size");
  to_u32(node, x.elements(), "element count");
  const bool softmax = std::is_same_v<Push, SoftmaxPush>;
  if (push.lanes == 0 || (softmax && push.axis_len == 0)) return;
  args.commands.dispatch(args.pipelines[0], {{x.region}, {args.outputs[0].region, true}}, push,
                         row_groups(push.lanes, args.caps));
}

const OpSpec kReductionOps[] = {
    shader_kernel("softmax", encode_softmax_lanes, "softmax", ShaderKind::kFloat,
                  "vulkan.softmax.workgroup_per_lane"),
    {.op = "argmax",
     .encode = encode_lanes<ArgmaxPush>,
     .shader = "argmax",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.argmax.workgroup_per_lane",
     .float_data_only = true},
};

}  // namespace

void encode_softmax_lanes(const EncodeArgs& args) { encode_lanes<SoftmaxPush>(args); }

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kReduction> = kReductionOps;

}  // namespace rtscope::vulkan
