// nonzero, masked_select and non_max_suppression: ops whose output size
// depends on the values they read. nonzero with max_count > 0 has a static padded output
// [max_count, rank]; without it (and masked_select always) the output's
// first dim is a count known only after reading the data. For those nodes
// `infer` gives the worst case (every element selected), which the memory
// plan is sized for, and `infer_from_data` the real dims at execute time.
#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/onnx_support.hpp"
#include "kernels/op_spec.hpp"
#include "rtscope/op_non_max_suppression.hpp"

namespace rtscope::cpu {
namespace {

// Whether an element is nonzero. f16 is compared by its bits: both zeros
// (+0, -0) have every bit but the sign clear.
struct HalfBits {
  uint16_t bits;
};
bool is_set(float v) { return v != 0.0f; }
bool is_set(HalfBits v) { return (v.bits & 0x7fffu) != 0; }
bool is_set(int32_t v) { return v != 0; }
bool is_set(int64_t v) { return v != 0; }
bool is_set(uint8_t v) { return v != 0; }

template <typename Element, typename Fn>
void scan(const TensorRef& x, Fn& fn) {
  const auto* data = x.as<const Element>();
  const int64_t n = x.elements();
  for (int64_t i = 0; i < n; ++i) {
    if (is_set(data[i]) && !fn(i)) return;
  }
}

// Calls fn(i) for each nonzero element of `x` in row-major order; stops
// early when fn returns false.
template <typename Fn>
void for_each_nonzero(const TensorRef& x, Fn&& fn) {
  switch (x.dtype) {
    case RTS_DTYPE_F32:
      return scan<float>(x, fn);
    case RTS_DTYPE_F16:
      return scan<HalfBits>(x, fn);
    case RTS_DTYPE_I32:
      return scan<int32_t>(x, fn);
    case RTS_DTYPE_I64:
      return scan<int64_t>(x, fn);
    case RTS_DTYPE_BOOL:
      return scan<uint8_t>(x, fn);
  }
}

int64_t count_nonzero(const TensorRef& x) {
  int64_t count = 0;
  for_each_nonzero(x, [&count](int64_t) {
    ++count;
    return true;
  });
  return count;
}

bool nonzero_is_data_dependent(const NodeDesc& node) { return node.attr_int("max_count", 0) <= 0; }

void infer_nonzero_from_data(const NodeDesc&, std::span<const TensorRef> inputs,
                             std::span<Dims> outputs) {
  outputs[0] = {count_nonzero(inputs[0]), static_cast<int64_t>(inputs[0].rank())};
}

// Writes the coordinates of the first `rows` nonzero elements, one row
// each, then rows of -1: the exact output has no padding, the max_count
// form pads or truncates.
void run_nonzero(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& out = args.outputs[0];
  const int rank = x.rank();
  const int64_t rows = out.dim(0);
  auto* cursor = out.as<int64_t>();
  int64_t written = 0;
  for_each_nonzero(x, [&](int64_t flat) {
    if (written == rows) return false;
    // Row-major coordinates of `flat`, last axis first.
    for (int axis = rank - 1; axis >= 0; --axis) {
      cursor[axis] = flat % x.dims[axis];
      flat /= x.dims[axis];
    }
    cursor += rank;
    ++written;
    return true;
  });
  std::fill(cursor, out.as<int64_t>() + rows * rank, int64_t{-1});
}

bool masked_select_is_data_dependent(const NodeDesc&) { return true; }

void infer_masked_select_from_data(const NodeDesc&, std::span<const TensorRef> inputs,
                                   std::span<Dims> outputs) {
  outputs[0] = {count_nonzero(inputs[1])};
}

// Copies the elements of x under a set mask, in order, as raw bytes (any
// dtype); stops at the output's capacity.
void run_masked_select(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& out = args.outputs[0];
  const size_t element = dtype_size(x.dtype);
  const auto* source = x.as<const std::byte>();
  auto* destination = out.as<std::byte>();
  const int64_t capacity = out.elements();
  int64_t written = 0;
  for_each_nonzero(args.inputs[1], [&](int64_t i) {
    if (written == capacity) return false;
    std::memcpy(destination + written * element, source + i * element, element);
    ++written;
    return true;
  });
}

// The boxes non_max_suppression keeps (rtscope/op_non_max_suppression.hpp),
// read from f32 or f16 inputs.
std::vector<std::array<int64_t, 3>> select_boxes(const NodeDesc& node,
                                                 std::span<const TensorRef> inputs) {
  const TensorRef& boxes = inputs[0];
  const TensorRef& scores = inputs[1];
  const math::NmsParams params{node.attr_int("center_point_box") != 0,
                               node.attr_int("max_output_boxes_per_class"),
                               node.attr_real("iou_threshold"), node.attr_real("score_threshold")};
  const int64_t count = boxes.dims[1];
  const int64_t classes = scores.dims[1];
  return math::non_max_suppression(
      boxes.dims[0], classes, count, params,
      [&](int64_t b, int64_t s, int k) {
        return onnx_kernels::load(boxes, (b * count + s) * 4 + k);
      },
      [&](int64_t b, int64_t c, int64_t s) {
        return onnx_kernels::load(scores, (b * classes + c) * count + s);
      });
}

bool non_max_suppression_is_data_dependent(const NodeDesc&) { return true; }

// The selection that sized a node's output, handed to its kernel: the
// context infers a data-dependent node's dims and then runs it on the same
// thread, so the selection is made once. Taken by the kernel (never kept
// past it); a kernel that finds none for its node and inputs (f16 inputs
// reach it converted, at other addresses) selects again.
struct PendingSelection {
  const NodeDesc* node = nullptr;
  const void* boxes = nullptr;
  const void* scores = nullptr;
  std::vector<std::array<int64_t, 3>> selected;
};
thread_local PendingSelection pending_selection;

void infer_non_max_suppression_from_data(const NodeDesc& node, std::span<const TensorRef> inputs,
                                         std::span<Dims> outputs) {
  pending_selection = {&node, inputs[0].data, inputs[1].data, select_boxes(node, inputs)};
  outputs[0] = {static_cast<int64_t>(pending_selection.selected.size()), 3};
}

void run_non_max_suppression(const KernelArgs& args) {
  PendingSelection pending = std::exchange(pending_selection, {});
  const bool sized_here = pending.node == &args.node && pending.boxes == args.inputs[0].data &&
                          pending.scores == args.inputs[1].data;
  const auto selected =
      sized_here ? std::move(pending.selected) : select_boxes(args.node, args.inputs);
  const TensorRef& out = args.outputs[0];
  const auto rows = std::min<int64_t>(out.dim(0), static_cast<int64_t>(selected.size()));
  auto* cursor = out.as<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    std::copy(selected[r].begin(), selected[r].end(), cursor + r * 3);
  }
}

const OpSpec kDataDependentOps[] = {
    {.op = "nonzero",
     .f16_mode = F16Mode::kRawElements,
     .run = run_nonzero,
     .kernel_name = "cpu.nonzero.scan",
     .data_dependent = nonzero_is_data_dependent,
     .infer_from_data = infer_nonzero_from_data,
     .static_kernel_name = "cpu.nonzero.scan_padded"},
    {.op = "masked_select",
     .f16_mode = F16Mode::kRawElements,
     .run = run_masked_select,
     .kernel_name = "cpu.masked_select.scan",
     .data_dependent = masked_select_is_data_dependent,
     .infer_from_data = infer_masked_select_from_data},
    {.op = "non_max_suppression",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_non_max_suppression,
     .kernel_name = "cpu.non_max_suppression.greedy",
     .data_dependent = non_max_suppression_is_data_dependent,
     .infer_from_data = infer_non_max_suppression_from_data},
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kDataDependent> = kDataDependentOps;

}  // namespace rtscope::cpu
