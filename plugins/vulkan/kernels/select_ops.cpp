// The index-driven ops of imported models: trilu and gather_elements (any
// dtype) on index_map.comp, whose encoder also runs pad (kernels/
// window_ops.cpp), and nll_loss (nll_loss.comp, one workgroup).
#include <cstring>
#include <string>

#include "command_list.hpp"
#include "half.hpp"
#include "kernels/op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

// pad's fill value stored as `dtype`, as the two RAW words of an element
// (the low one alone for elements of 4 bytes or less).
std::pair<uint32_t, uint32_t> fill_words(rts_dtype dtype, double value) {
  switch (dtype) {
    case RTS_DTYPE_F32: {
      const auto f = static_cast<float>(value);
      uint32_t bits = 0;
      std::memcpy(&bits, &f, sizeof(bits));
      return {bits, 0};
    }
    case RTS_DTYPE_F16:
      return {float_to_half(static_cast<float>(value)), 0};
    case RTS_DTYPE_I32:
      return {static_cast<uint32_t>(static_cast<int32_t>(value)), 0};
    case RTS_DTYPE_I64: {
      const auto v = static_cast<uint64_t>(static_cast<int64_t>(value));
      return {static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32)};
    }
    default:
      return {value != 0.0 ? 1u : 0u, 0};
  }
}

void check_rank(const NodeDesc& node, std::span<const Dims* const> inputs) {
  if (inputs[0]->size() > kIndexMapRank) {
    fail_node(node, "the Vulkan index-map kernel handles rank up to ", kIndexMapRank, ", got ",
              inputs[0]->size());
  }
}

}  // namespace

void encode_index_map(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  const int64_t units = units_per_element(x.dtype);
  IndexMapPush push{};
  push.units = static_cast<uint32_t>(units);
  push.rank = static_cast<uint32_t>(out.dims.size());
  push.count = to_u32(node, out.elements() * units, "element count");
  to_u32(node, x.elements() * units, "element count");
  if (push.count == 0) return;
  for (size_t d = 0; d < out.dims.size(); ++d) {
    push.out_dims[d] = static_cast<uint32_t>(out.dims[d]);
    push.in_dims[d] = static_cast<uint32_t>(x.dims[d]);
  }
  BufferRegion indices = x.region;  // bound but unread except by gather_elements
  if (node.op == "pad") {
    push.mode = 0;
    const std::string mode = node.find_attr("mode") != nullptr ? node.find_attr("mode")->s : "";
    push.param = mode == "reflect" ? 1 : mode == "edge" ? 2 : 0;
    const auto& pads = node.attr_ints("pads");
    for (size_t d = 0; d < out.dims.size(); ++d) {
      push.pad_begin[d] = static_cast<int32_t>(pads[d]);
    }
    std::tie(push.fill_low, push.fill_high) = fill_words(x.dtype, node.attr_real("value", 0.0));
  } else if (node.op == "trilu") {
    push.mode = 1;
    push.param = node.attr_int("upper") != 0 ? 1 : 0;
    const int64_t k = node.attr_int("k");
    // Diagonals beyond the matrix keep everything or nothing alike.
    const int64_t bound = x.dim(-1) + x.dim(-2);
    push.k = static_cast<int32_t>(std::clamp<int64_t>(k, -bound, bound));
  } else {
    push.mode = 2;
    push.param = static_cast<uint32_t>(normalize_axis(node, node.attr_int("axis"), x.dims.size()));
    push.id_words = args.inputs[1].dtype == RTS_DTYPE_I64 ? 2 : 1;
    indices = args.inputs[1].region;
  }
  args.commands.dispatch(args.pipelines[0], {{x.region}, {indices}, {out.region, true}}, push,
                         linear_groups(push.count, args.caps));
}

namespace {

void encode_nll_loss(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& target = args.inputs[1];
  const NodeDesc& node = args.node;
  NllLossPush push{};
  push.count = to_u32(node, target.elements(), "target count");
  push.classes = to_u32(node, x.dims[1], "class count");
  int64_t spatial = 1;
  for (size_t d = 2; d < x.dims.size(); ++d) spatial *= x.dims[d];
  push.spatial = to_u32(node, spatial, "spatial size");
  to_u32(node, x.elements(), "element count");
  const AttrDesc* reduction = node.find_attr("reduction");
  const std::string mode = reduction != nullptr ? reduction->s : "mean";
  push.reduction = mode == "none" ? 0 : mode == "sum" ? 1 : 2;
  push.id_words = target.dtype == RTS_DTYPE_I64 ? 2 : 1;
  const auto ignore = static_cast<uint64_t>(node.attr_int("ignore_index"));
  push.ignore_low = static_cast<uint32_t>(ignore);
  push.ignore_high = static_cast<uint32_t>(ignore >> 32);
  BufferRegion weight = x.region;  // bound but unread without weights
  if (args.inputs.size() > 2) {
    push.flags = kNllLossWeighted;
    weight = args.inputs[2].region;
  }
  if (args.outputs[0].elements() == 0) return;
  args.commands.dispatch(args.pipelines[0],
                         {{x.region}, {target.region}, {weight}, {args.outputs[0].region, true}},
                         push, row_groups(1, args.caps));
}

const OpSpec kSelectOps[] = {
    shader_kernel("nll_loss", encode_nll_loss, "nll_loss", ShaderKind::kFloat,
                  "vulkan.nll_loss.one_workgroup"),
    shader_kernel("trilu", encode_index_map, "index_map", ShaderKind::kRaw,
                  "vulkan.trilu.index_map", check_rank),
    shader_kernel("gather_elements", encode_index_map, "index_map", ShaderKind::kRaw,
                  "vulkan.gather_elements.index_map", check_rank),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kSelect> = kSelectOps;

}  // namespace rtscope::vulkan
