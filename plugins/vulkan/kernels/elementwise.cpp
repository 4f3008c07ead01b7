// Elementwise ops: add, sub, mul with numpy broadcasting (binary.comp, op
// selector in push constants); scale, relu, gelu, silu (unary.comp). Both
// shaders take f32 or f16 storage and compute in f32. The math ops of
// imported models run through the same two encoders (kernels/math_ops.cpp).
#include <algorithm>
#include <optional>

#include "command_list.hpp"
#include "kernels/broadcast_pair.hpp"
#include "kernels/op_spec.hpp"
#include "kernels/strided_layout.hpp"
#include "rtscope/op_math.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

// binary.comp's op selector.
uint32_t binary_op_code(const NodeDesc& node) {
  static constexpr std::string_view kOps[] = {"add", "sub", "mul", "div",
                                              "pow", "max", "min", "prelu"};
  for (uint32_t i = 0; i < std::size(kOps); ++i) {
    if (node.op == kOps[i]) return i;
  }
  fail(RTS_ERROR_INTERNAL, node.label(), ": binary.comp has no op '", node.op, "'");
}

}  // namespace

void encode_binary(const EncodeArgs& args) {
  BinaryPush push{};
  push.op = binary_op_code(args.node);
  dispatch_broadcast_pair(args, args.inputs[0], args.inputs[1], push);
}

void encode_unary(const EncodeArgs& args) {
  const NodeDesc& node = args.node;
  UnaryPush push{};
  if (node.op == "scale") {
    push.op = 0;
    push.factor = static_cast<float>(node.attr_real("factor"));
  } else if (node.op == "relu" || node.op == "gelu" || node.op == "silu") {
    push.op = node.op == "relu" ? 1 : node.op == "gelu" ? 2 : 3;
  } else {
    const std::optional<math::Unary> op = math::unary_from_name(node.op);
    if (!op) fail(RTS_ERROR_INTERNAL, node.label(), ": unary.comp has no op '", node.op, "'");
    push.op = kUnaryMathBase + static_cast<uint32_t>(*op);
    // The host resolved every attribute; the parametric ops read theirs.
    AttrMap attrs;
    for (const AttrDesc& attr : node.attrs) attrs[attr.name] = node.attr_real(attr.name);
    const math::UnaryParams params = math::unary_params(*op, attrs);
    push.factor = static_cast<float>(params.a);
    push.param = static_cast<float>(params.b);
  }
  push.count = to_u32(node, args.outputs[0].elements(), "element count");
  if (push.count == 0) return;
  args.commands.dispatch(args.pipelines[0],
                         {{args.inputs[0].region}, {args.outputs[0].region, true}}, push,
                         linear_groups(push.count, args.caps));
}

namespace {

constexpr OpSpec binary_spec(const char* op, const char* kernel) {
  return shader_kernel(op, encode_binary, "binary", ShaderKind::kFloat, kernel);
}

constexpr OpSpec unary_spec(const char* op, const char* kernel) {
  return shader_kernel(op, encode_unary, "unary", ShaderKind::kFloat, kernel);
}

const OpSpec kElementwiseOps[] = {
    binary_spec("add", "vulkan.binary.broadcast"), binary_spec("sub", "vulkan.binary.broadcast"),
    binary_spec("mul", "vulkan.binary.broadcast"), unary_spec("scale", "vulkan.unary.scale"),
    unary_spec("relu", "vulkan.unary.relu"),       unary_spec("gelu", "vulkan.unary.gelu_erf"),
    unary_spec("silu", "vulkan.unary.silu"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kElementwise> = kElementwiseOps;

}  // namespace rtscope::vulkan
