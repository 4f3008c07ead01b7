// Data movement: reshape, transpose, concat, slice and the embedding
// gather. These move elements of any dtype without arithmetic.
#include <algorithm>
#include <array>
#include <cstring>

#include "kernels/op_spec.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

void copy_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
}

void run_reshape(const KernelArgs& args) {
  copy_bytes(args.outputs[0].data, args.inputs[0].data, args.inputs[0].bytes());
}

template <typename Element>
void transpose_rows(const Element* in, Element* out, int rank, const int64_t* out_dims,
                    const int64_t* in_strides, int64_t row_begin, int64_t row_end) {
  const int64_t inner = out_dims[rank - 1];
  const int64_t inner_stride = in_strides[rank - 1];
  for (int64_t row = row_begin; row < row_end; ++row) {
    int64_t offset = 0;
    int64_t remaining = row;
    for (int axis = rank - 2; axis >= 0; --axis) {
      offset += (remaining % out_dims[axis]) * in_strides[axis];
      remaining /= out_dims[axis];
    }
    Element* dst = out + row * inner;
    const Element* src = in + offset;
    if (inner_stride == 1) {
      std::memcpy(dst, src, static_cast<size_t>(inner) * sizeof(Element));
    } else {
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i * inner_stride];
    }
  }
}

void run_transpose(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& out = args.outputs[0];
  const int rank = x.rank();
  if (rank == 0 || out.elements() == 0) {
    copy_bytes(out.data, x.data, x.bytes());
    return;
  }
  const std::array<int, RTS_MAX_RANK> perm = resolve_perm(args.node, rank);
  int64_t x_strides[RTS_MAX_RANK];
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    x_strides[i] = stride;
    stride *= x.dims[i];
  }
  // Strides of x in the order of the output's axes.
  int64_t in_strides[RTS_MAX_RANK];
  for (int i = 0; i < rank; ++i) in_strides[i] = x_strides[perm[i]];
  const int64_t inner = out.dims[rank - 1];
  const int64_t rows = out.elements() / inner;
  args.pool.parallel_for(rows, rows_per_task(inner), [&](int64_t begin, int64_t end) {
    switch (dtype_size(x.dtype)) {
      case 1:
        return transpose_rows(x.as<const uint8_t>(), out.as<uint8_t>(), rank, out.dims.data(),
                              in_strides, begin, end);
      case 2:
        return transpose_rows(x.as<const uint16_t>(), out.as<uint16_t>(), rank, out.dims.data(),
                              in_strides, begin, end);
      case 4:
        return transpose_rows(x.as<const uint32_t>(), out.as<uint32_t>(), rank, out.dims.data(),
                              in_strides, begin, end);
      default:
        return transpose_rows(x.as<const uint64_t>(), out.as<uint64_t>(), rank, out.dims.data(),
                              in_strides, begin, end);
    }
  });
}

void run_concat(const KernelArgs& args) {
  const TensorRef& out = args.outputs[0];
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), out.rank());
  const size_t element = dtype_size(out.dtype);
  const int64_t outer = element_count(out.dims.first(axis));
  const int64_t inner = element_count(out.dims.subspan(axis + 1));
  const size_t out_row = static_cast<size_t>(out.dims[axis] * inner) * element;
  auto* dst = static_cast<std::byte*>(out.data);
  size_t column = 0;  // byte offset of the current input within an output row
  for (const TensorRef& x : args.inputs) {
    const size_t x_row = static_cast<size_t>(x.dims[axis] * inner) * element;
    const auto* src = static_cast<const std::byte*>(x.data);
    if (x_row > 0) {
      args.pool.parallel_for(outer, rows_per_task(static_cast<int64_t>(x_row / element)),
                             [&](int64_t begin, int64_t end) {
                               for (int64_t row = begin; row < end; ++row) {
                                 std::memcpy(dst + row * out_row + column, src + row * x_row,
                                             x_row);
                               }
                             });
    }
    column += x_row;
  }
}

void run_slice(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const SliceRange range = resolve_slice(args.node, x.dims);
  const size_t element = dtype_size(x.dtype);
  const int64_t outer = element_count(x.dims.first(range.axis));
  const int64_t inner = element_count(x.dims.subspan(range.axis + 1));
  const size_t in_row = static_cast<size_t>(x.dims[range.axis] * inner) * element;
  const size_t out_row = static_cast<size_t>((range.end - range.start) * inner) * element;
  const size_t offset = static_cast<size_t>(range.start * inner) * element;
  if (out_row == 0) return;
  const auto* src = static_cast<const std::byte*>(x.data);
  auto* dst = static_cast<std::byte*>(args.outputs[0].data);
  args.pool.parallel_for(outer, rows_per_task(static_cast<int64_t>(out_row / element)),
                         [&](int64_t begin, int64_t end) {
                           for (int64_t row = begin; row < end; ++row) {
                             std::memcpy(dst + row * out_row, src + row * in_row + offset, out_row);
                           }
                         });
}

template <typename Index>
void gather_rows(const KernelArgs& args) {
  const TensorRef& table = args.inputs[0];
  const TensorRef& ids = args.inputs[1];
  const int64_t vocab = table.dim(0);
  const size_t row_bytes = static_cast<size_t>(table.dim(1)) * dtype_size(table.dtype);
  const Index* indices = ids.as<const Index>();
  const auto* src = static_cast<const std::byte*>(table.data);
  auto* dst = static_cast<std::byte*>(args.outputs[0].data);
  args.pool.parallel_for(ids.elements(), rows_per_task(table.dim(1)),
                         [&](int64_t begin, int64_t end) {
                           for (int64_t i = begin; i < end; ++i) {
                             const int64_t id = static_cast<int64_t>(indices[i]);
                             if (id < 0 || id >= vocab) {
                               fail_node(args.node, "id ", id, " at flat index ", i, " of ids ",
                                         shape_str(ids.dims), " is outside [0, ", vocab, ")");
                             }
                             if (row_bytes > 0)
                               std::memcpy(dst + i * row_bytes, src + id * row_bytes, row_bytes);
                           }
                         });
}

void run_embedding(const KernelArgs& args) {
  if (args.inputs[1].dtype == RTS_DTYPE_I32) {
    gather_rows<int32_t>(args);
  } else {
    gather_rows<int64_t>(args);
  }
}

const OpSpec kShapeOps[] = {
    {.op = "reshape",
     .f16_mode = F16Mode::kRawElements,
     .run = run_reshape,
     .kernel_name = "cpu.reshape.view_or_copy",
     .output_views_input = true},
    raw_kernel("transpose", run_transpose, "cpu.transpose.strided_rows"),
    raw_kernel("concat", run_concat, "cpu.concat.row_copy"),
    raw_kernel("slice", run_slice, "cpu.slice.row_copy"),
    raw_kernel("embedding", run_embedding, "cpu.embedding.row_gather"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kShape> = kShapeOps;

}  // namespace rtscope::cpu
