// The sliding-window ops of CNNs: conv and conv_transpose (1 to 3 spatial
// dims, groups, strides, dilations, pads, optional bias), max_pool and
// avg_pool, all on
// window.comp (one invocation per output element); and pad (constant,
// reflect, edge; any dtype) on index_map.comp.
#include <cstdint>

#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

// An attribute with one value per spatial dim (pads: two), or `fallback`
// when it is empty.
int64_t per_dim(const std::vector<int64_t>& values, size_t index, int64_t fallback) {
  return values.empty() ? fallback : values[index];
}

// conv_transpose's pads may be negative (they crop its output).
int32_t to_i32(const NodeDesc& node, int64_t pad) {
  if (pad < INT32_MIN || pad > INT32_MAX) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": pad ", pad,
         " exceeds the 32-bit indexing of the Vulkan kernels");
  }
  return static_cast<int32_t>(pad);
}

void check_window_shapes(const NodeDesc& node, std::span<const Dims* const> inputs) {
  const size_t spatial = inputs[0]->size() - 2;
  if (spatial > kWindowSpatial) {
    fail_node(node, "the Vulkan window kernel handles 1 to ", kWindowSpatial, " spatial dims, got ",
              spatial);
  }
}

void check_pad_rank(const NodeDesc& node, std::span<const Dims* const> inputs) {
  if (inputs[0]->size() > kIndexMapRank) {
    fail_node(node, "the Vulkan pad kernel handles rank up to ", kIndexMapRank, ", got ",
              inputs[0]->size());
  }
}

void encode_window(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  const bool transposed = node.op == "conv_transpose";
  const bool conv = node.op == "conv" || transposed;
  const size_t spatial = x.dims.size() - 2;
  WindowPush push{};
  push.spatial = static_cast<uint32_t>(spatial);
  push.count = to_u32(node, out.elements(), "element count");
  to_u32(node, x.elements(), "element count");
  if (push.count == 0) return;
  const std::vector<int64_t> kernel =
      conv ? std::vector<int64_t>(args.inputs[1].dims.begin() + 2, args.inputs[1].dims.end())
           : node.attr_ints("kernel");
  const auto& strides = node.attr_ints("strides");
  const auto& dilations = node.attr_ints("dilations");
  const auto& pads = node.attr_ints("pads");
  for (size_t d = 0; d < spatial; ++d) {
    push.in_dims[d] = to_u32(node, x.dims[2 + d], "spatial dim");
    push.out_dims[d] = to_u32(node, out.dims[2 + d], "spatial dim");
    push.kernel[d] = to_u32(node, kernel[d], "kernel size");
    push.strides[d] = to_u32(node, per_dim(strides, d, 1), "stride");
    push.dilations[d] = to_u32(node, per_dim(dilations, d, 1), "dilation");
    push.pad_begin[d] = to_i32(node, per_dim(pads, d, 0));
    // Only avg_pool counting pads reads the end pads (conv_transpose's may be negative).
    push.pad_end[d] = conv ? 0 : to_u32(node, per_dim(pads, spatial + d, 0), "pad");
  }
  push.out_channels = to_u32(node, out.dims[1], "channel count");
  BufferRegion weights = x.region;  // pools bind x in the unused slots
  BufferRegion bias = x.region;
  if (conv) {
    const TensorArg& w = args.inputs[1];
    const int64_t group = node.attr_int("group");
    if (transposed) {  // w is [C, M / group, kernel...]
      push.mode = 4;
      push.in_per_group = to_u32(node, w.dims[0] / group, "input channels per group");
      push.out_per_group = to_u32(node, w.dims[1], "output channels per group");
    } else {  // w is [M, C / group, kernel...]
      push.mode = 0;
      push.in_per_group = to_u32(node, w.dims[1], "input channels per group");
      push.out_per_group = to_u32(node, w.dims[0] / group, "output channels per group");
    }
    to_u32(node, w.elements(), "weight element count");
    weights = w.region;
    if (args.inputs.size() > 2) {
      push.flags = kWindowBias;
      bias = args.inputs[2].region;
    }
  } else if (node.op == "max_pool") {
    push.mode = 1;
  } else {
    push.mode = node.attr_int("count_include_pad", 0) != 0 ? 3 : 2;
  }
  args.commands.dispatch(args.pipelines[0], {{x.region}, {weights}, {bias}, {out.region, true}},
                         push, linear_groups(push.count, args.caps));
}

constexpr OpSpec window_spec(const char* op, const char* kernel) {
  return shader_kernel(op, encode_window, "window", ShaderKind::kFloat, kernel,
                       check_window_shapes);
}

const OpSpec kWindowOps[] = {
    window_spec("conv", "vulkan.conv.direct"),
    window_spec("conv_transpose", "vulkan.conv_transpose.direct"),
    window_spec("max_pool", "vulkan.max_pool.direct"),
    window_spec("avg_pool", "vulkan.avg_pool.direct"),
    shader_kernel("pad", encode_index_map, "index_map", ShaderKind::kRaw, "vulkan.pad.index_map",
                  check_pad_rank),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kWindow> = kWindowOps;

}  // namespace rtscope::vulkan
