// Reference kernels of the index-driven ops (op_shapes_select):
// gather_elements, trilu, nll_loss and non_max_suppression.
#include <cmath>
#include <limits>
#include <map>

#include "ref_ops.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_non_max_suppression.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {
namespace {

std::vector<int64_t> coords_of(const Shape& shape, int64_t i) {
  std::vector<int64_t> c(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    c[d] = i % shape[d];
    i /= shape[d];
  }
  return c;
}

int64_t flat_of(const Shape& shape, const std::vector<int64_t>& c) {
  int64_t f = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + c[d];
  return f;
}

void gather_elements_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                            std::vector<RefTensor>& out) {
  const RefTensor& data = in[0];
  const std::size_t axis = positive_axis(attr_int(attrs, "axis"), data.shape.size());
  for (std::size_t i = 0; i < out[0].data.size(); ++i) {
    std::vector<int64_t> c = coords_of(in[1].shape, static_cast<int64_t>(i));
    auto index = static_cast<int64_t>(in[1].data[i]);
    const int64_t length = data.shape[axis];
    if (index < -length || index >= length) {
      throw InputError("gather_elements: index " + std::to_string(index) +
                       " is out of range for a dim of " + std::to_string(length));
    }
    c[axis] = index < 0 ? index + length : index;
    for (std::size_t d = 0; d < c.size(); ++d) {
      if (c[d] >= data.shape[d]) throw InputError("gather_elements: indices exceed data's shape");
    }
    out[0].data[i] = data.data[flat_of(data.shape, c)];
  }
}

void trilu_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                  std::vector<RefTensor>& out) {
  const Shape& shape = in[0].shape;
  const bool upper = attr_int(attrs, "upper") != 0;
  const int64_t k = attr_int(attrs, "k");
  for (std::size_t i = 0; i < out[0].data.size(); ++i) {
    const std::vector<int64_t> c = coords_of(shape, static_cast<int64_t>(i));
    const int64_t row = c[c.size() - 2];
    const int64_t col = c[c.size() - 1];
    const bool keep = upper ? col - row >= k : col - row <= k;
    out[0].data[i] = keep ? in[0].data[i] : 0.0;
  }
}

void nll_loss_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                     std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const RefTensor& target = in[1];
  const int64_t classes = x.shape[1];
  const int64_t ignore = attr_int(attrs, "ignore_index");
  const std::string& reduction = attr_string(attrs, "reduction");
  int64_t spatial = 1;
  for (std::size_t d = 2; d < x.shape.size(); ++d) spatial *= x.shape[d];
  double total = 0.0;
  double weights = 0.0;
  for (std::size_t i = 0; i < target.data.size(); ++i) {
    const auto t = static_cast<int64_t>(target.data[i]);
    const int64_t n = static_cast<int64_t>(i) / spatial;
    const int64_t s = static_cast<int64_t>(i) % spatial;
    double loss = 0.0;
    double w = 0.0;
    if (t != ignore) {
      if (t < 0 || t >= classes) {
        throw InputError("nll_loss: target " + std::to_string(t) + " is outside [0, " +
                         std::to_string(classes) + ")");
      }
      w = in.size() > 2 ? in[2].data[t] : 1.0;
      loss = -x.data[(n * classes + t) * spatial + s] * w;
    }
    if (reduction == "none") out[0].data[i] = loss;
    total += loss;
    weights += w;
  }
  if (reduction == "sum") out[0].data[0] = total;
  if (reduction == "mean") out[0].data[0] = total / weights;
}

void non_max_suppression_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                                std::vector<RefTensor>& out) {
  const RefTensor& boxes = in[0];
  const RefTensor& scores = in[1];
  const math::NmsParams params{
      attr_int(attrs, "center_point_box") != 0, attr_int(attrs, "max_output_boxes_per_class"),
      attr_real(attrs, "iou_threshold"), attr_real(attrs, "score_threshold")};
  const int64_t count = boxes.shape[1];
  const int64_t classes = scores.shape[1];
  const auto selected = math::non_max_suppression(
      boxes.shape[0], classes, count, params,
      [&](int64_t b, int64_t s, int k) { return boxes.data[(b * count + s) * 4 + k]; },
      [&](int64_t b, int64_t c, int64_t s) { return scores.data[(b * classes + c) * count + s]; });
  out[0].shape = {static_cast<int64_t>(selected.size()), 3};
  out[0].data.clear();
  for (const auto& triple : selected) {
    for (int64_t v : triple) out[0].data.push_back(static_cast<double>(v));
  }
}

}  // namespace

void add_select_kernels(KernelTable& table) {
  table["gather_elements"] = gather_elements_kernel;
  table["trilu"] = trilu_kernel;
  table["nll_loss"] = nll_loss_kernel;
  table["non_max_suppression"] = non_max_suppression_kernel;
}

}  // namespace rtscope::reference::detail
