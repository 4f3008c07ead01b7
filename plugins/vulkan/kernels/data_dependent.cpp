// nonzero and masked_select: ordered compaction in one workgroup
// (shaders/select.comp). nonzero with max_count > 0 has a static padded
// output [max_count, rank]. Without it, and for masked_select always, the
// kernel writes into an output sized for the worst case (every element
// selected); the engine runs such a graph as segments (segments.hpp) that
// end after the node, and the exact output is allocated once the count is
// read back.
#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

bool nonzero_is_data_dependent(const NodeDesc& node) { return node.attr_int("max_count", 0) <= 0; }

bool masked_select_is_data_dependent(const NodeDesc&) { return true; }

// The compaction shader indexes at most kMaxShaderRank dims.
void check_nonzero_rank(const NodeDesc& node, std::span<const Dims* const> inputs) {
  const Dims& x = *inputs[0];
  if (x.size() > kMaxShaderRank) {
    fail_node(node, "x ", shape_str(x), " has rank ", x.size(), " > ", kMaxShaderRank);
  }
}

// Words per element and the bits that make an element of `dtype` (as
// stored on the device) nonzero: floats ignore the sign bit, so -0 is zero.
SelectPush select_push(const NodeDesc& node, const TensorArg& x, int64_t rows) {
  SelectPush push{};
  push.count = to_u32(node, x.elements(), "element count");
  push.rows = to_u32(node, rows, "output rows");
  const size_t bytes = dtype_size(x.dtype);
  push.words = bytes == 8 ? 2 : 1;
  switch (x.dtype) {
    case RTS_DTYPE_F32:
      push.value_mask = 0x7fffffffu;
      break;
    case RTS_DTYPE_F16:
      push.value_mask = 0x7fffu;
      break;
    default:
      push.value_mask = 0xffffffffu;
      break;
  }
  push.rank = static_cast<uint32_t>(x.rank());
  for (int axis = 0; axis < x.rank(); ++axis) push.dims[axis] = to_u32(node, x.dim(axis), "dim");
  return push;
}

void encode_nonzero(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& out = args.outputs[0];
  const SelectPush push = select_push(args.node, x, out.dim(0));
  if (out.elements() == 0) return;
  args.commands.dispatch(args.pipelines[0], {{x.region}, {out.region, true}}, push, Groups{});
}

void encode_masked_select(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& mask = args.inputs[1];
  const TensorArg& out = args.outputs[0];
  const SelectPush push = select_push(args.node, x, out.dim(0));
  if (out.elements() == 0) return;
  args.commands.dispatch(args.pipelines[0], {{x.region}, {mask.region}, {out.region, true}}, push,
                         Groups{});
}

const OpSpec kDataDependentOps[] = {
    {.op = "nonzero",
     .encode = encode_nonzero,
     .shader = "nonzero",
     .shader_kind = ShaderKind::kRaw,
     .kernel_name = "vulkan.nonzero.compact",
     .data_dependent = nonzero_is_data_dependent,
     .static_kernel_name = "vulkan.nonzero.compact_padded",
     .check_kernel_shapes = check_nonzero_rank},
    {.op = "masked_select",
     .encode = encode_masked_select,
     .shader = "masked_select",
     .shader_kind = ShaderKind::kRaw,
     .kernel_name = "vulkan.masked_select.compact",
     .data_dependent = masked_select_is_data_dependent},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kDataDependent> = kDataDependentOps;

}  // namespace rtscope::vulkan
