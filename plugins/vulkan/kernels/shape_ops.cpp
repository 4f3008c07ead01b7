// Shape ops (data movement of any dtype): reshape (a view, nothing runs), transpose,
// slice and concat through the generic strided copy shader, and the
// embedding gather. These move elements without arithmetic; 8-byte
// elements move as two 32-bit words.
#include <algorithm>
#include <array>

#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "kernels/strided_layout.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {

// RAW shader elements per tensor element.
int64_t units_per_element(rts_dtype dtype) { return dtype_size(dtype) >= 8 ? 2 : 1; }

void dispatch_copy(const EncodeArgs& args, rts_dtype dtype, std::vector<int64_t> dims,
                   std::vector<int64_t> in_strides, std::vector<int64_t> out_strides,
                   int64_t in_offset, int64_t out_offset, const BufferRegion& in,
                   const BufferRegion& out) {
  const int64_t units = units_per_element(dtype);
  if (units > 1) {
    for (int64_t& stride : in_strides) stride *= units;
    for (int64_t& stride : out_strides) stride *= units;
    dims.push_back(units);
    in_strides.push_back(1);
    out_strides.push_back(1);
    in_offset *= units;
    out_offset *= units;
  }
  const NodeDesc& node = args.node;
  const auto layout = StridedLayout<2>::merge(dims, {in_strides, out_strides});
  if (layout.dims.size() > kMaxShaderRank) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": the copy needs rank ", layout.dims.size(),
         " after merging dims; the shader handles ", kMaxShaderRank);
  }
  CopyPush push{};
  uint64_t count = 1;
  for (int64_t dim : layout.dims) count *= static_cast<uint64_t>(dim);
  push.count = to_u32(node, count, "element count");
  if (push.count == 0) return;
  push.rank = static_cast<uint32_t>(layout.dims.size());
  push.in_offset = to_u32(node, in_offset, "offset");
  push.out_offset = to_u32(node, out_offset, "offset");
  for (size_t i = 0; i < layout.dims.size(); ++i) {
    push.dims[i] = static_cast<uint32_t>(layout.dims[i]);
    push.in_strides[i] = to_u32(node, layout.strides[0][i], "stride");
    push.out_strides[i] = to_u32(node, layout.strides[1][i], "stride");
  }
  args.commands.dispatch(args.pipelines[0], {{in}, {out, true}}, push,
                         linear_groups(push.count, args.caps));
}

namespace {

// The permutation keeps memory order when the axes longer than 1 stay in
// their relative order.
bool transpose_keeps_layout(const NodeDesc& node, const Dims& x) {
  const std::array<int, RTS_MAX_RANK> perm = resolve_perm(node, x.size());
  int last = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[perm[i]] == 1) continue;
    if (perm[i] < last) return false;
    last = perm[i];
  }
  return true;
}

void encode_transpose(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& out = args.outputs[0];
  const std::array<int, RTS_MAX_RANK> perm = resolve_perm(args.node, x.dims.size());
  const std::vector<int64_t> x_strides = contiguous_strides(x.dims);
  std::vector<int64_t> in_strides(x.dims.size());
  for (size_t i = 0; i < x.dims.size(); ++i) in_strides[i] = x_strides[perm[i]];
  dispatch_copy(args, x.dtype, {out.dims.begin(), out.dims.end()}, in_strides,
                contiguous_strides(out.dims), 0, 0, x.region, out.region);
}

void encode_concat(const EncodeArgs& args) {
  const TensorArg& out = args.outputs[0];
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), out.dims.size());
  const std::vector<int64_t> out_strides = contiguous_strides(out.dims);
  int64_t position = 0;  // along the axis
  for (const TensorArg& x : args.inputs) {
    dispatch_copy(args, x.dtype, {x.dims.begin(), x.dims.end()}, contiguous_strides(x.dims),
                  out_strides, 0, position * out_strides[axis], x.region, out.region);
    position += x.dim(axis);
  }
}

void encode_slice(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& out = args.outputs[0];
  const SliceRange range = resolve_slice(args.node, x.dims);
  const std::vector<int64_t> x_strides = contiguous_strides(x.dims);
  dispatch_copy(args, x.dtype, {out.dims.begin(), out.dims.end()}, x_strides,
                contiguous_strides(out.dims), range.start * x_strides[range.axis], 0, x.region,
                out.region);
}

void encode_embedding(const EncodeArgs& args) {
  const TensorArg& table = args.inputs[0];
  const TensorArg& ids = args.inputs[1];
  const NodeDesc& node = args.node;
  const int64_t units = units_per_element(table.dtype);
  EmbeddingPush push{};
  push.width = to_u32(node, table.dim(1) * units, "row width");
  push.count = to_u32(node, args.outputs[0].elements() * units, "element count");
  push.vocab = to_u32(node, table.dim(0), "vocabulary size");
  push.id_words = ids.dtype == RTS_DTYPE_I64 ? 2 : 1;
  to_u32(node, table.elements() * units, "table element count");
  if (push.count == 0 || push.vocab == 0) return;
  args.commands.dispatch(args.pipelines[0],
                         {{table.region}, {ids.region}, {args.outputs[0].region, true}}, push,
                         linear_groups(push.count, args.caps));
}

const OpSpec kShapeOps[] = {
    {.op = "reshape",
     .encode = nullptr,
     .shader = nullptr,
     .shader_kind = ShaderKind::kNone,
     .kernel_name = "vulkan.reshape.view",
     .output_views_input = true},
    {.op = "transpose",
     .encode = encode_transpose,
     .shader = "copy",
     .shader_kind = ShaderKind::kRaw,
     .kernel_name = "vulkan.transpose.strided_copy",
     .views_input_for = transpose_keeps_layout},
    shader_kernel("concat", encode_concat, "copy", ShaderKind::kRaw, "vulkan.concat.strided_copy"),
    shader_kernel("slice", encode_slice, "copy", ShaderKind::kRaw, "vulkan.slice.strided_copy"),
    shader_kernel("embedding", encode_embedding, "embedding", ShaderKind::kRaw,
                  "vulkan.embedding.row_gather"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kShape> = kShapeOps;

}  // namespace rtscope::vulkan
