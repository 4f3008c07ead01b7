// Elementwise ops: add, sub, mul with numpy broadcasting (binary.comp, op
// selector in push constants); scale, relu, gelu, silu (unary.comp). Both
// shaders take f32 or f16 storage and compute in f32.
#include <algorithm>

#include "command_list.hpp"
#include "op_spec.hpp"
#include "kernels/strided_layout.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

void infer_same_shape(const NodeDesc&, std::span<const Dims* const> inputs,
                      std::span<Dims> outputs) {
  outputs[0] = *inputs[0];
}

void infer_broadcast(const NodeDesc& node, std::span<const Dims* const> inputs,
                     std::span<Dims> outputs) {
  const Dims& a = *inputs[0];
  const Dims& b = *inputs[1];
  const size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right, as numpy does.
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      fail_node(node, "cannot broadcast ", shape_str(a), " with ", shape_str(b));
    }
    out[i] = da == 1 ? db : da;
  }
  outputs[0] = std::move(out);
}

// Strides of `operand` read at the output's index space: 0 along dims the
// operand lacks or broadcasts.
std::vector<int64_t> broadcast_strides(std::span<const int64_t> operand,
                                       std::span<const int64_t> out) {
  const std::vector<int64_t> own = contiguous_strides(operand);
  std::vector<int64_t> strides(out.size(), 0);
  const size_t offset = out.size() - operand.size();
  for (size_t i = 0; i < operand.size(); ++i) {
    strides[offset + i] = operand[i] == 1 ? 0 : own[i];
  }
  return strides;
}

void encode_binary(const EncodeArgs& args) {
  const TensorArg& a = args.inputs[0];
  const TensorArg& b = args.inputs[1];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  BinaryPush push{};
  push.op = node.op == "add" ? 0 : node.op == "sub" ? 1 : 2;
  push.count = to_u32(node, out.elements(), "element count");
  if (push.count == 0) return;
  const auto layout = StridedLayout<2>::merge(
      out.dims, {broadcast_strides(a.dims, out.dims), broadcast_strides(b.dims, out.dims)});
  if (layout.dims.size() > kMaxShaderRank) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": broadcast pattern needs rank ", layout.dims.size(),
         " after merging dims; the shader handles ", kMaxShaderRank);
  }
  push.rank = static_cast<uint32_t>(layout.dims.size());
  for (size_t i = 0; i < layout.dims.size(); ++i) {
    push.dims[i] = static_cast<uint32_t>(layout.dims[i]);
    push.a_strides[i] = static_cast<uint32_t>(layout.strides[0][i]);
    push.b_strides[i] = static_cast<uint32_t>(layout.strides[1][i]);
  }
  args.commands.dispatch(args.pipelines[0], {{a.region}, {b.region}, {out.region, true}}, push,
                         linear_groups(push.count, args.caps));
}

void encode_unary(const EncodeArgs& args) {
  const NodeDesc& node = args.node;
  UnaryPush push{};
  if (node.op == "scale") {
    push.op = 0;
    push.factor = static_cast<float>(node.attr_real("factor"));
  } else {
    push.op = node.op == "relu" ? 1 : node.op == "gelu" ? 2 : 3;
  }
  push.count = to_u32(node, args.outputs[0].elements(), "element count");
  if (push.count == 0) return;
  args.commands.dispatch(args.pipelines[0],
                         {{args.inputs[0].region}, {args.outputs[0].region, true}}, push,
                         linear_groups(push.count, args.caps));
}

constexpr InputKind kOneFloat[] = {InputKind::kFloat};
constexpr InputKind kTwoFloats[] = {InputKind::kFloat, InputKind::kFloat};
constexpr AttrSpec kScaleAttrs[] = {{"factor", RTS_ATTR_FLOAT, true}};

constexpr OpSpec binary_spec(const char* op, const char* kernel) {
  return {.op = op,
          .min_inputs = 2,
          .max_inputs = 2,
          .input_kinds = kTwoFloats,
          .output_dtype = OutputDtype::kSameAsFirstInput,
          .attrs = {},
          .infer = infer_broadcast,
          .encode = encode_binary,
          .shader = "binary",
          .shader_kind = ShaderKind::kFloat,
          .kernel_name = kernel};
}

constexpr OpSpec unary_spec(const char* op, const char* kernel,
                            std::span<const AttrSpec> attrs = {}) {
  return {.op = op,
          .min_inputs = 1,
          .max_inputs = 1,
          .input_kinds = kOneFloat,
          .output_dtype = OutputDtype::kSameAsFirstInput,
          .attrs = attrs,
          .infer = infer_same_shape,
          .encode = encode_unary,
          .shader = "unary",
          .shader_kind = ShaderKind::kFloat,
          .kernel_name = kernel};
}

const OpSpec kElementwiseOps[] = {
    binary_spec("add", "vulkan.binary.broadcast"),
    binary_spec("sub", "vulkan.binary.broadcast"),
    binary_spec("mul", "vulkan.binary.broadcast"),
    unary_spec("scale", "vulkan.unary.scale", kScaleAttrs),
    unary_spec("relu", "vulkan.unary.relu"),
    unary_spec("gelu", "vulkan.unary.gelu_erf"),
    unary_spec("silu", "vulkan.unary.silu"),
};

}  // namespace

std::span<const OpSpec> elementwise_op_specs() { return kElementwiseOps; }

}  // namespace rtscope::vulkan
