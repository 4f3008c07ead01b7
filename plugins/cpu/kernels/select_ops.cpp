// CPU kernels of the index-driven ops: gather_elements and trilu (any
// dtype, moved as raw elements) and nll_loss (f32; f16 converted by the
// context).
#include <cstring>

#include "kernels/op_spec.hpp"

namespace rtscope::cpu {
namespace {

int64_t index_at(const TensorRef& indices, int64_t i) {
  return indices.dtype == RTS_DTYPE_I64 ? indices.as<const int64_t>()[i]
                                        : indices.as<const int32_t>()[i];
}

void run_gather_elements(const KernelArgs& args) {
  const TensorRef& data = args.inputs[0];
  const TensorRef& indices = args.inputs[1];
  const TensorRef& out = args.outputs[0];
  const int rank = data.rank();
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), rank);
  const size_t width = dtype_size(data.dtype);
  const auto* from = static_cast<const std::byte*>(data.data);
  auto* to = static_cast<std::byte*>(out.data);
  for (int64_t i = 0; i < out.elements(); ++i) {
    int64_t rest = i;
    int64_t offset = 0;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      int64_t coord = rest % indices.dims[d];
      rest /= indices.dims[d];
      if (d == axis) {
        coord = index_at(indices, i);
        if (coord < -data.dims[d] || coord >= data.dims[d]) {
          fail_node(args.node, "index ", coord, " is out of range for a dim of ", data.dims[d]);
        }
        if (coord < 0) coord += data.dims[d];
      } else if (coord >= data.dims[d]) {
        fail_node(args.node, "indices exceed data's dim ", d);
      }
      offset += coord * stride;
      stride *= data.dims[d];
    }
    std::memcpy(to + i * width, from + offset * width, width);
  }
}

void run_trilu(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& out = args.outputs[0];
  const bool upper = args.node.attr_int("upper") != 0;
  const int64_t k = args.node.attr_int("k");
  const int64_t rows = x.dim(-2);
  const int64_t cols = x.dim(-1);
  const size_t width = dtype_size(x.dtype);
  const auto* from = static_cast<const std::byte*>(x.data);
  auto* to = static_cast<std::byte*>(out.data);
  for (int64_t i = 0; i < out.elements(); ++i) {
    const int64_t col = i % cols;
    const int64_t row = (i / cols) % rows;
    const bool keep = upper ? col - row >= k : col - row <= k;
    if (keep) {
      std::memcpy(to + i * width, from + i * width, width);
    } else {
      std::memset(to + i * width, 0, width);
    }
  }
}

void run_nll_loss(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& target = args.inputs[1];
  const float* weight = args.inputs.size() > 2 ? args.inputs[2].as<const float>() : nullptr;
  const int64_t classes = x.dims[1];
  const int64_t ignore = args.node.attr_int("ignore_index");
  const AttrDesc* reduction_attr = args.node.find_attr("reduction");
  const std::string reduction = reduction_attr ? reduction_attr->s : "mean";
  int64_t spatial = 1;
  for (int d = 2; d < x.rank(); ++d) spatial *= x.dims[d];
  const float* scores = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  double total = 0.0;
  double weights = 0.0;
  for (int64_t i = 0; i < target.elements(); ++i) {
    const int64_t t = index_at(target, i);
    double loss = 0.0;
    double w = 0.0;
    if (t != ignore) {
      if (t < 0 || t >= classes)
        fail_node(args.node, "target ", t, " is outside [0, ", classes, ")");
      w = weight != nullptr ? weight[t] : 1.0;
      loss =
          -static_cast<double>(scores[((i / spatial) * classes + t) * spatial + i % spatial]) * w;
    }
    if (reduction == "none") out[i] = static_cast<float>(loss);
    total += loss;
    weights += w;
  }
  if (reduction == "sum") out[0] = static_cast<float>(total);
  if (reduction == "mean") out[0] = static_cast<float>(total / weights);
}

const OpSpec kSelectOps[] = {
    raw_kernel("gather_elements", run_gather_elements, "cpu.gather_elements.elements"),
    raw_kernel("trilu", run_trilu, "cpu.trilu.elements"),
    f32_kernel("nll_loss", run_nll_loss, "cpu.nll_loss.f32"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kSelect> = kSelectOps;

}  // namespace rtscope::cpu
