// The math ops of imported models: unary functions and activations
// (unary.comp by op code), div/pow/max/min/prelu with broadcasting
// (binary.comp), comparisons and logic with bool results (compare.comp),
// casts between every dtype (cast.comp), where (where.comp), expand
// (copy.comp with broadcast strides) and gather (gather.comp).
#include <string_view>

#include "command_list.hpp"
#include "kernels/broadcast_pair.hpp"
#include "kernels/op_spec.hpp"
#include "kernels/strided_layout.hpp"
#include "rtscope/op_math.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

CastType cast_type(const NodeDesc& node, rts_dtype dtype) {
  switch (dtype) {
    case RTS_DTYPE_F32:
      return kCastF32;
    case RTS_DTYPE_F16:
      return kCastF16;
    case RTS_DTYPE_I32:
      return kCastI32;
    case RTS_DTYPE_I64:
      return kCastI64;
    case RTS_DTYPE_BOOL:
      return kCastBool;
    default:
      fail(RTS_ERROR_UNSUPPORTED, node.label(), ": cast.comp has no dtype ", dtype_name(dtype));
  }
}

void encode_cast(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& out = args.outputs[0];
  CastPush push{};
  push.count = to_u32(args.node, out.elements(), "element count");
  push.from = cast_type(args.node, x.dtype);
  push.to = cast_type(args.node, out.dtype);
  if (push.count == 0) return;
  args.commands.dispatch(args.pipelines[0], {{x.region}, {out.region, true}}, push,
                         linear_groups(push.count, args.caps));
}

uint32_t compare_op_code(const NodeDesc& node) {
  static constexpr std::string_view kOps[] = {
      "equal", "less", "greater", "less_equal", "greater_equal", "and", "or", "xor", "not"};
  for (uint32_t i = 0; i < std::size(kOps); ++i) {
    if (node.op == kOps[i]) return i;
  }
  fail(RTS_ERROR_INTERNAL, node.label(), ": compare.comp has no op '", node.op, "'");
}

void encode_compare(const EncodeArgs& args) {
  const TensorArg& a = args.inputs[0];
  const TensorArg& b = args.inputs.size() > 1 ? args.inputs[1] : args.inputs[0];  // not: a, a
  ComparePush push{};
  push.op = compare_op_code(args.node);
  push.type = cast_type(args.node, a.dtype);
  dispatch_broadcast_pair(args, a, b, push);
}

void encode_expand(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& out = args.outputs[0];
  dispatch_copy(args, x.dtype, {out.dims.begin(), out.dims.end()},
                broadcast_strides(x.dims, out.dims), contiguous_strides(out.dims), 0, 0, x.region,
                out.region);
}

void encode_where(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& y = args.inputs[1];
  const TensorArg& cond = args.inputs[2];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  std::vector<int64_t> dims(out.dims.begin(), out.dims.end());
  std::array<std::vector<int64_t>, 3> strides = {broadcast_strides(x.dims, out.dims),
                                                 broadcast_strides(y.dims, out.dims),
                                                 broadcast_strides(cond.dims, out.dims)};
  const int64_t units = units_per_element(out.dtype);
  if (units > 1) {  // 8-byte elements move as two words; cond stays per element
    dims.push_back(units);
    for (int o = 0; o < 2; ++o) {
      for (int64_t& stride : strides[o]) stride *= units;
      strides[o].push_back(1);
    }
    strides[2].push_back(0);
  }
  const auto layout = StridedLayout<3>::merge(dims, strides);
  if (layout.dims.size() > kWhereRank) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": broadcast pattern needs rank ", layout.dims.size(),
         " after merging dims; the shader handles ", kWhereRank);
  }
  WherePush push{};
  push.count = to_u32(node, out.elements() * units, "element count");
  if (push.count == 0) return;
  push.rank = static_cast<uint32_t>(layout.dims.size());
  for (size_t i = 0; i < layout.dims.size(); ++i) {
    push.dims[i] = static_cast<uint32_t>(layout.dims[i]);
    push.x_strides[i] = to_u32(node, layout.strides[0][i], "stride");
    push.y_strides[i] = to_u32(node, layout.strides[1][i], "stride");
    push.cond_strides[i] = to_u32(node, layout.strides[2][i], "stride");
  }
  args.commands.dispatch(args.pipelines[0],
                         {{x.region}, {y.region}, {cond.region}, {out.region, true}}, push,
                         linear_groups(push.count, args.caps));
}

void encode_gather(const EncodeArgs& args) {
  const TensorArg& data = args.inputs[0];
  const TensorArg& indices = args.inputs[1];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  const int axis = normalize_axis(node, node.attr_int("axis"), data.dims.size());
  int64_t inner = units_per_element(data.dtype);
  for (size_t d = axis + 1; d < data.dims.size(); ++d) inner *= data.dims[d];
  GatherPush push{};
  push.count = to_u32(node, out.elements() * units_per_element(data.dtype), "element count");
  push.inner = to_u32(node, inner, "row width");
  push.indices = to_u32(node, indices.elements(), "index count");
  push.axis_len = to_u32(node, data.dims[axis], "axis length");
  push.id_words = indices.dtype == RTS_DTYPE_I64 ? 2 : 1;
  to_u32(node, data.elements() * units_per_element(data.dtype), "data element count");
  if (push.count == 0) return;
  args.commands.dispatch(args.pipelines[0], {{data.region}, {indices.region}, {out.region, true}},
                         push, linear_groups(push.count, args.caps));
}

// Every math::Unary op runs on unary.comp; the kernel names are static.
template <std::size_t... I>
constexpr std::array<OpSpec, sizeof...(I)> unary_specs(std::index_sequence<I...>) {
  return {OpSpec{.op = math::kUnaryNames[I].data(),
                 .encode = encode_unary,
                 .shader = "unary",
                 .shader_kind = ShaderKind::kFloat,
                 .kernel_name = "vulkan.unary.math"}...};
}

constexpr OpSpec float_binary(const char* op) {
  return shader_kernel(op, encode_binary, "binary", ShaderKind::kFloat, "vulkan.binary.broadcast");
}

constexpr OpSpec cast_spec(const char* op) {
  return shader_kernel(op, encode_cast, "cast", ShaderKind::kFixed, "vulkan.cast.elementwise");
}

constexpr OpSpec compare_spec(const char* op) {
  return shader_kernel(op, encode_compare, "compare", ShaderKind::kFixed,
                       "vulkan.compare.broadcast");
}

constexpr auto kUnarySpecs = unary_specs(std::make_index_sequence<std::size(math::kUnaryNames)>());

constexpr std::array<OpSpec, 22> kOtherSpecs = {
    compare_spec("equal"),
    compare_spec("less"),
    compare_spec("greater"),
    compare_spec("less_equal"),
    compare_spec("greater_equal"),
    compare_spec("and"),
    compare_spec("or"),
    compare_spec("xor"),
    compare_spec("not"),
    float_binary("div"),
    float_binary("pow"),
    float_binary("max"),
    float_binary("min"),
    float_binary("prelu"),
    cast_spec("cast_f32"),
    cast_spec("cast_f16"),
    cast_spec("cast_i32"),
    cast_spec("cast_i64"),
    cast_spec("cast_bool"),
    shader_kernel("where", encode_where, "where", ShaderKind::kRaw, "vulkan.where.broadcast"),
    shader_kernel("expand", encode_expand, "copy", ShaderKind::kRaw, "vulkan.expand.strided_copy"),
    shader_kernel("gather", encode_gather, "gather", ShaderKind::kRaw, "vulkan.gather.rows"),
};

const std::vector<OpSpec>& math_specs() {
  static const std::vector<OpSpec> specs = [] {
    std::vector<OpSpec> all(kUnarySpecs.begin(), kUnarySpecs.end());
    all.insert(all.end(), kOtherSpecs.begin(), kOtherSpecs.end());
    return all;
  }();
  return specs;
}

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kMath> = math_specs();

}  // namespace rtscope::vulkan
