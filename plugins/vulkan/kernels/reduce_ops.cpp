// The reductions of imported models: reduce_sum, _mean, _max, _min, _prod
// and _log_sum_exp over any set of axes (reduce.comp, one workgroup per
// output element), and log_softmax along one axis (softmax.comp built with
// LOG_SOFTMAX).
#include <string_view>

#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

uint32_t reduce_op_code(const NodeDesc& node) {
  static constexpr std::string_view kOps[] = {"reduce_sum", "reduce_mean", "reduce_max",
                                              "reduce_min", "reduce_prod", "reduce_log_sum_exp"};
  for (uint32_t i = 0; i < std::size(kOps); ++i) {
    if (node.op == kOps[i]) return i;
  }
  fail(RTS_ERROR_INTERNAL, node.label(), ": reduce.comp has no op '", node.op, "'");
}

// Appends dim `size` with `stride` to a run list, merged into the last run
// when the two are contiguous (the last one's stride = size · stride).
void append_run(std::vector<int64_t>& dims, std::vector<int64_t>& strides, int64_t size,
                int64_t stride, bool contiguous) {
  if (contiguous && !dims.empty() && strides.back() == size * stride) {
    dims.back() *= size;
    strides.back() = stride;
    return;
  }
  dims.push_back(size);
  strides.push_back(stride);
}

void encode_reduce(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const NodeDesc& node = args.node;
  const int rank = x.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : node.attr_ints("axes")) reduced[normalize_axis(node, axis, rank)] = true;
  const std::vector<int64_t> strides = contiguous_strides(x.dims);
  std::vector<int64_t> kept_dims, kept_strides, red_dims, red_strides;
  bool previous_reduced = false;  // whether the last dim longer than 1 was reduced
  bool any = false;
  for (int d = 0; d < rank; ++d) {
    if (x.dims[d] == 1) continue;
    // Merge only neighbours of the same kind: the output's order is the
    // order of the kept dims.
    const bool contiguous = any && previous_reduced == reduced[d];
    if (reduced[d]) {
      append_run(red_dims, red_strides, x.dims[d], strides[d], contiguous);
    } else {
      append_run(kept_dims, kept_strides, x.dims[d], strides[d], contiguous);
    }
    previous_reduced = reduced[d];
    any = true;
  }
  if (kept_dims.size() > kReduceRank || red_dims.size() > kReduceRank) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": the reduction alternates kept and reduced dims ",
         "more than ", kReduceRank, " times; the shader handles ", kReduceRank, " runs of each");
  }
  ReducePush push{};
  push.op = reduce_op_code(node);
  uint64_t groups = 1;
  for (int64_t d : kept_dims) groups *= static_cast<uint64_t>(d);
  uint64_t members = 1;
  for (int64_t d : red_dims) members *= static_cast<uint64_t>(d);
  push.groups = to_u32(node, groups, "output element count");
  push.members = to_u32(node, members, "reduced element count");
  to_u32(node, x.elements(), "element count");
  push.kept_rank = static_cast<uint32_t>(kept_dims.size());
  push.reduced_rank = static_cast<uint32_t>(red_dims.size());
  for (size_t i = 0; i < kept_dims.size(); ++i) {
    push.kept_dims[i] = static_cast<uint32_t>(kept_dims[i]);
    push.kept_strides[i] = static_cast<uint32_t>(kept_strides[i]);
  }
  for (size_t i = 0; i < red_dims.size(); ++i) {
    push.reduced_dims[i] = static_cast<uint32_t>(red_dims[i]);
    push.reduced_strides[i] = static_cast<uint32_t>(red_strides[i]);
  }
  if (push.groups == 0 || args.outputs[0].elements() == 0) return;
  args.commands.dispatch(args.pipelines[0], {{x.region}, {args.outputs[0].region, true}}, push,
                         row_groups(push.groups, args.caps));
}

constexpr OpSpec reduce_spec(const char* op) {
  return shader_kernel(op, encode_reduce, "reduce", ShaderKind::kFloat,
                       "vulkan.reduce.workgroup_per_output");
}

const OpSpec kReduceOps[] = {
    reduce_spec("reduce_sum"),
    reduce_spec("reduce_mean"),
    reduce_spec("reduce_max"),
    reduce_spec("reduce_min"),
    reduce_spec("reduce_prod"),
    reduce_spec("reduce_log_sum_exp"),
    shader_kernel("log_softmax", encode_softmax_lanes, "log_softmax", ShaderKind::kFloat,
                  "vulkan.log_softmax.workgroup_per_lane"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kReduce> = kReduceOps;

}  // namespace rtscope::vulkan
