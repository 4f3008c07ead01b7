// matmul and linear on the tiled matmul shader, or on the skinny shaders:
// matvec for at most four rows (decode steps), matvec_t on a transposed
// linear weight for up to 64 rows (decode steps and short prompts), or
// skinny_coop on tensor cores for 2..16 such rows in f16 (batched decode;
// kernels/skinny_product.hpp). Batch dims broadcast (up to
// three after merging); when b has no batch dims and a is a full batch, the
// batch folds into M so that one dispatch covers every row.
#include <algorithm>

#include "command_list.hpp"
#include "kernels/op_spec.hpp"
#include "kernels/skinny_product.hpp"
#include "kernels/strided_layout.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

bool transpose_b(const NodeDesc& node) { return node.attr_int("transpose_b", 0) != 0; }

// Batch strides (in elements) of a matrix operand read at the output's
// batch index space; 0 along broadcast or missing dims.
std::vector<int64_t> batch_strides(std::span<const int64_t> operand, size_t out_batch_rank,
                                   int64_t matrix_elements) {
  const size_t rank = operand.size() - 2;
  std::vector<int64_t> strides(out_batch_rank, 0);
  int64_t stride = matrix_elements;
  for (size_t i = rank; i-- > 0;) {
    strides[out_batch_rank - rank + i] = operand[i] == 1 ? 0 : stride;
    stride *= operand[i];
  }
  return strides;
}

// Tile of C per workgroup of matmul_coop.comp, and its K step.
constexpr uint32_t kCoopTileM = 128;
constexpr uint32_t kCoopTileN = 256;
constexpr uint32_t kCoopTileK = 32;

// The cooperative-matrix shader has no edge handling, bias or transposed B.
bool fits_coop_matrix_tiles(const MatmulPush& push) {
  return push.flags == 0 && push.m % kCoopTileM == 0 && push.n % kCoopTileN == 0 &&
         push.k % kCoopTileK == 0 && push.k > 0;
}

// Few rows and one batch: the skinny shader in args.pipelines[1], which
// reads b as [N, K] (matvec_t) when `skinny_transposed`, else as [K, N]
// (matvec), or for the shapes it covers the tensor-core skinny shader in
// args.pipelines[3] (f16 linears on devices with cooperative matrices);
// otherwise tiles (on tensor cores when the device has them and the shapes
// fit).
void dispatch_matmul(const EncodeArgs& args, MatmulPush push, const BufferRegion& a,
                     const BufferRegion& b, const BufferRegion& bias, const BufferRegion& out,
                     bool skinny_transposed = false) {
  if (push.m == 0 || push.n == 0 || push.batches == 0) return;
  const DeviceCaps& caps = args.caps;
  const bool b_transposed = (push.flags & kMatmulTransposeB) != 0;
  const uint32_t skinny_rows = skinny_transposed ? kMatvecTransposedMaxRows : kMatvecMaxRows;
  const bool skinny =
      push.m <= skinny_rows && push.batches == 1 && b_transposed == skinny_transposed;
  const EncodeArgs::Heads& heads = args.heads;
  const bool argmax = args.argmax.out != nullptr;
  if ((args.residual != nullptr || args.row_norm_gain != nullptr || args.gated_up != nullptr ||
       heads.pos != nullptr || argmax) &&
      !(skinny && skinny_transposed)) {
    fail(RTS_ERROR_INTERNAL, args.node.label(),
         ": a neighbouring node was fused into a product that does not run matvec_t");
  }
  if (skinny) {
    MatvecPush skinny_push{
        push.m,
        push.n,
        push.k,
        push.flags | (args.residual ? kMatmulResidual : 0) |
            (args.row_norm_gain ? kMatmulNormRows : 0) | (args.gated_up ? kMatmulGated : 0) |
            (heads.rope ? kMatmulRope : 0) | (heads.cache_len != 0 ? kMatmulCacheWrite : 0) |
            (heads.pos != nullptr && heads.pos->elements() > 1 ? kMatmulPosPerRow : 0) |
            (argmax ? kMatmulArgmax : 0) |
            (args.row_norm_gain && args.row_norm_gain->ones ? kMatmulUnitGain : 0),
        args.row_norm_eps,
        heads.head_dim,
        heads.seq,
        heads.log2_base,
        heads.cache_len};
    // Binding 4: the residual, the up weight of a gated product, or the
    // position of a rope or a cache write.
    const BufferRegion& fourth = args.residual   ? args.residual->region
                                 : args.gated_up ? args.gated_up->region
                                 : heads.pos     ? heads.pos->region
                                                 : a;
    const SkinnyShape shape{skinny_push.m, skinny_push.n, skinny_push.k, skinny_push.flags,
                            skinny_push.head_dim};
    // The argmax is matvec_t's alone.
    if (skinny_transposed && !argmax && args.pipelines.size() > 3 &&
        runs_skinny_coop(shape, caps.skinny, caps.skinny_coop, caps.matvec_split_rows != 0)) {
      // Tensor cores (skinny_coop.comp): one workgroup per 16 columns.
      args.commands.dispatch(args.pipelines[3], {{a}, {b}, {bias}, {out, true}, {fourth}},
                             skinny_push,
                             Groups{static_cast<uint32_t>(std::min<uint64_t>(
                                        skinny_coop_groups(shape), caps.max_group_count[0])),
                                    1, 1});
      return;
    }
    // matvec: kMatvecColumns columns per workgroup; matvec_t: one column
    // per subgroup.
    const uint32_t subgroups =
        std::max(1u, caps.matvec_workgroup / std::max(1u, caps.subgroup_size));
    const uint64_t columns = skinny_transposed ? subgroups : kMatvecColumns;
    // A rope takes one subgroup per pair of columns.
    const uint64_t tasks = heads.rope ? push.n / 2 : push.n;
    // From 2 rows on matvec_t (generic or specialized) splits K across the
    // workgroup where the device allows it: a few tasks per workgroup.
    const bool split = skinny_transposed && push.m >= 2 && caps.matvec_split_rows != 0;
    const uint32_t split_tasks =
        matvec_split_tasks(caps.matvec_split_rows, args.gated_up != nullptr || heads.rope);
    // A split-K workgroup takes one task group per team at a time.
    uint32_t teams = 1;
    if (split) {
      const uint32_t vecs = push.k / vector_elements(args.outputs[0].dtype);
      const uint32_t storers = split_tasks * 8;
      const uint32_t row_slots = matvec_team_slots_for_rows(caps.matvec_team_slots,
                                                            caps.matvec_few_row_team_slots, push.m);
      // Only a product alone in its batch spreads: one that shares it (the
      // q, k and v projections) fills the device with its neighbours.
      const uint32_t team_slots =
          args.alone_in_level ? matvec_product_team_slots(row_slots, caps.matvec_min_groups, vecs,
                                                          storers, caps.subgroup_size, subgroups,
                                                          (tasks + split_tasks - 1) / split_tasks)
                              : row_slots;
      // The shader halves the slots as the host did only under this flag,
      // which both pipelines of the product (generic and specialized) see.
      if (team_slots != row_slots) skinny_push.flags |= kMatmulSpreadTeams;
      teams = subgroups /
              matvec_split_team_subgroups(vecs, storers, caps.subgroup_size, subgroups, team_slots);
    }
    const uint64_t per_group = split ? uint64_t{split_tasks} * teams : columns;
    // Capped (DeviceCaps::matvec_groups): the workgroups loop over the rest.
    uint64_t group_count =
        std::min<uint64_t>((tasks + per_group - 1) / per_group, caps.max_group_count[0]);
    if (caps.matvec_groups != 0) group_count = std::min<uint64_t>(group_count, caps.matvec_groups);
    const Groups groups{static_cast<uint32_t>(group_count), 1, 1};
    if (argmax) {
      args.commands.dispatch(args.pipelines[1],
                             {{a},
                              {b},
                              {bias},
                              {out, true},
                              {fourth},
                              {args.argmax.state, true},
                              {args.argmax.out->region, true}},
                             ChainedPush<MatvecPush>{skinny_push}, groups);
    } else if (skinny_transposed) {
      // matvec_t counts its workgroups in for a split attention chained
      // after it (CommandList); matvec does not.
      args.commands.dispatch(args.pipelines[1], {{a}, {b}, {bias}, {out, true}, {fourth}},
                             ChainedPush<MatvecPush>{skinny_push}, groups);
    } else {
      args.commands.dispatch(args.pipelines[1], {{a}, {b}, {bias}, {out, true}, {fourth}},
                             skinny_push, groups);
    }
    return;
  }
  if (args.pipelines.size() > 2 && fits_coop_matrix_tiles(push)) {
    // Tensor cores: the shapes tile exactly (matmul_coop.comp).
    const Groups groups{push.n / kCoopTileN, push.m / kCoopTileM,
                        std::min(push.batches, caps.max_group_count[2])};
    if (groups.x <= caps.max_group_count[0] && groups.y <= caps.max_group_count[1]) {
      args.commands.dispatch(args.pipelines[2], {{a}, {b}, {bias}, {out, true}}, push, groups);
      return;
    }
  }
  const uint64_t tile_cols = uint64_t{caps.tile_x} * caps.tile_regs;
  const uint64_t tile_rows = uint64_t{caps.tile_y} * caps.tile_regs;
  const uint64_t groups_x = (push.n + tile_cols - 1) / tile_cols;
  const uint64_t groups_y = (push.m + tile_rows - 1) / tile_rows;
  if (groups_x > caps.max_group_count[0] || groups_y > caps.max_group_count[1]) {
    fail(RTS_ERROR_UNSUPPORTED, args.node.label(), ": ", push.m, "x", push.n,
         " output needs more workgroups than maxComputeWorkGroupCount allows");
  }
  const Groups groups{static_cast<uint32_t>(groups_x), static_cast<uint32_t>(groups_y),
                      std::min(push.batches, caps.max_group_count[2])};
  args.commands.dispatch(args.pipelines[0], {{a}, {b}, {bias}, {out, true}}, push, groups);
}

void encode_matmul(const EncodeArgs& args) {
  const TensorArg& a = args.inputs[0];
  const TensorArg& b = args.inputs[1];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  const bool b_transposed = transpose_b(node);
  const int64_t m = a.dim(-2);
  const int64_t k = a.dim(-1);
  const int64_t n = out.dim(-1);
  const size_t batch_rank = out.dims.size() - 2;
  const std::span<const int64_t> batch_dims = out.dims.first(batch_rank);

  std::vector<int64_t> out_strides(batch_rank);
  int64_t stride = m * n;
  for (size_t i = batch_rank; i-- > 0;) {
    out_strides[i] = stride;
    stride *= batch_dims[i];
  }
  auto layout =
      StridedLayout<3>::merge(batch_dims, {batch_strides(a.dims, batch_rank, m * k),
                                           batch_strides(b.dims, batch_rank, k * n), out_strides});

  MatmulPush push{};
  push.flags = b_transposed ? kMatmulTransposeB : 0;
  uint64_t batches = 1;
  for (int64_t dim : layout.dims) batches *= static_cast<uint64_t>(dim);
  int64_t rows = m;
  // One shared b and a batch laid out like the output: fold into rows.
  const bool shared_b = std::all_of(layout.strides[1].begin(), layout.strides[1].end(),
                                    [](int64_t s) { return s == 0; });
  bool a_follows_out = true;
  for (size_t i = 0; i < layout.dims.size(); ++i) {
    a_follows_out = a_follows_out && layout.strides[0][i] * n == layout.strides[2][i] * k;
  }
  if (shared_b && a_follows_out && m > 0 && k > 0) {
    rows = m * static_cast<int64_t>(batches);
    batches = 1;
    layout.dims = {1};
    layout.strides = {std::vector<int64_t>{0}, {0}, {0}};
  }
  if (layout.dims.size() > 3) {
    fail(RTS_ERROR_UNSUPPORTED, node.label(), ": batch dims ", shape_str(batch_dims),
         " need more than 3 dims after merging; the matmul shader handles 3");
  }
  push.m = to_u32(node, static_cast<uint64_t>(rows), "row count");
  push.n = to_u32(node, static_cast<uint64_t>(n), "column count");
  push.k = to_u32(node, static_cast<uint64_t>(k), "inner dim");
  push.batches = to_u32(node, batches, "batch count");
  // Right-align into the shader's three batch dims.
  const size_t pad = 3 - layout.dims.size();
  for (size_t i = 0; i < 3; ++i) {
    push.batch_dims[i] = 1;
    if (i < pad) continue;
    push.batch_dims[i] = static_cast<uint32_t>(layout.dims[i - pad]);
    push.a_batch_strides[i] = to_u32(node, layout.strides[0][i - pad], "batch stride");
    push.b_batch_strides[i] = to_u32(node, layout.strides[1][i - pad], "batch stride");
  }
  to_u32(node, out.elements(), "element count");
  dispatch_matmul(args, push, a.region, b.region, a.region, out.region);
}

void encode_linear(const EncodeArgs& args) {
  const TensorArg& x = args.inputs[0];
  const TensorArg& w = args.inputs[1];
  const TensorArg& out = args.outputs[0];
  const NodeDesc& node = args.node;
  const bool has_bias = args.inputs.size() == 3;
  if (has_bias && args.row_norm_gain != nullptr) {
    fail(RTS_ERROR_INTERNAL, node.label(), ": an rmsnorm was fused into a linear with a bias");
  }
  if (has_bias && (args.gated_up != nullptr || args.heads.rope)) {
    fail(RTS_ERROR_INTERNAL, node.label(),
         ": a gated product or a rope was fused into a linear with a bias");
  }
  MatmulPush push{};
  push.k = to_u32(node, w.dim(0), "inner dim");
  push.n = to_u32(node, w.dim(1), "column count");
  // Rows from x: with a cache write the output is the whole cache.
  push.m = push.k > 0   ? to_u32(node, x.elements() / push.k, "row count")
           : push.n > 0 ? to_u32(node, out.elements() / push.n, "row count")
                        : 0;
  // A weight the engine stores as [N, K] (Engine::transpose_linear_weights).
  push.flags = (has_bias ? kMatmulBias : 0) | (w.transposed ? kMatmulTransposeB : 0);
  push.batches = 1;
  push.batch_dims[0] = push.batch_dims[1] = push.batch_dims[2] = 1;
  to_u32(node, out.elements(), "element count");
  to_u32(node, x.elements(), "element count");
  const BufferRegion& third = args.row_norm_gain ? args.row_norm_gain->region
                              : has_bias         ? args.inputs[2].region
                                                 : x.region;
  dispatch_matmul(args, push, x.region, w.region, third, out.region,
                  /*skinny_transposed=*/w.transposed);
}

// A linear with a weight stored [N, K] and few rows runs matvec_t, which
// can add a residual (dispatch_matmul's skinny transposed path).
bool linear_runs_matvec_t(std::span<const Dims* const> inputs, bool weight_transposed) {
  if (!weight_transposed || inputs.size() < 2 || inputs[1]->size() != 2) return false;
  const int64_t k = (*inputs[1])[0];
  if (k <= 0) return false;
  const int64_t rows = element_count(*inputs[0]) / k;
  return rows > 0 && rows <= kMatvecTransposedMaxRows;
}

const OpSpec kMatmulOps[] = {
    {.op = "matmul",
     .encode = encode_matmul,
     .shader = "matmul",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.matmul.tiled_shared",
     .alternate_shader = "matvec",
     .coop_matrix_shader = "matmul_coop_f16"},
    {.op = "linear",
     .encode = encode_linear,
     .shader = "matmul",
     .shader_kind = ShaderKind::kFloat,
     .kernel_name = "vulkan.linear.tiled_shared",
     .alternate_shader = "matvec",
     .coop_matrix_shader = "matmul_coop_f16",
     .runs_matvec_t = linear_runs_matvec_t},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kMatmul> = kMatmulOps;

}  // namespace rtscope::vulkan
