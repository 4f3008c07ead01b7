// Row-wise ops, one workgroup per row or lane with shared-memory
// reductions: softmax and argmax along any axis (the tensor viewed as
// [outer, axis, inner]), rmsnorm and layernorm over the last dim.
#include "command_list.hpp"
#include "op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

struct AxisView {
  int64_t outer = 1;
  int64_t length = 1;
  int64_t inner = 1;
};

AxisView view_around(std::span<const int64_t> dims, int axis) {
  AxisView view;
  for (int i = 0; i < axis; ++i) view.outer *= dims[i];
  view.length = dims[axis];
  for (size_t i = axis + 1; i < dims.size(); ++i) view.inner *= dims[i];
  return view;
}

void encode_softmax(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const NodeDesc& node = args.node;
  const AxisView view =
      view_around(x.dims, normalize_axis(node, node.attr_int("axis", -1), x.rank()));
  SoftmaxPush push{};
  push.lanes = to_u32(node, view.outer * view.inner, "lane count");
  push.axis_len = to_u32(node, view.length, "axis length");
  push.inner = to_u32(node, view.inner, "inner size");
  to_u32(node, x.elements(), "element count");
  if (push.lanes == 0 || push.axis_len == 0) return;
  args.commands.dispatch(args.pipelines[0], {{x.region}, {args.outputs[0].region, true}}, push,
                         row_groups(push.lanes, args.caps));
}

void encode_argmax(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const NodeDesc& node = args.node;
  const AxisView view =
      view_around(x.dims, normalize_axis(node, node.attr_int("axis", -1), x.rank()));
  ArgmaxPush push{};
  push.lanes = to_u32(node, view.outer * view.inner, "lane count");
  push.axis_len = to_u32(node, view.length, "axis length");
  push.inner = to_u32(node, view.inner, "inner size");
  to_u32(node, x.elements(), "element count");
  if (push.lanes == 0) return;
  args.commands.dispatch(args.pipelines[0], {{x.region}, {args.outputs[0].region, true}}, push,
                         row_groups(push.lanes, args.caps));
}

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

const OpSpec kReductionOps[] = {
    {.op = "softmax",
     .encode = encode_softmax,
     .shader = "softmax",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.softmax.workgroup_per_lane"},
    {.op = "argmax",
     .encode = encode_argmax,
     .shader = "argmax",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.argmax.workgroup_per_lane",
     .float_data_only = true},
    {.op = "layernorm",
     .encode = encode_norm,
     .shader = "norm",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.layernorm.workgroup_per_row"},
    {.op = "rmsnorm",
     .encode = encode_norm,
     .shader = "norm",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.rmsnorm.workgroup_per_row"},
};

}  // namespace

std::span<const OpSpec> reduction_op_specs() { return kReductionOps; }

}  // namespace rtscope::vulkan
