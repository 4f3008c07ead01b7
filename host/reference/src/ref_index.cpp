// Reference kernels of the index ops (op_shapes_index): top_k,
// scatter_elements, scatter_nd and gather_nd. Every index is checked
// against its dim; negative ones count from the end.
#include <algorithm>
#include <map>
#include <numeric>

#include "ref_ops.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_math.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {
namespace {

int64_t product(const Shape& shape, std::size_t begin, std::size_t end) {
  int64_t p = 1;
  for (std::size_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

// `index` in [-length, length) to [0, length).
int64_t checked_index(std::string_view op, double value, int64_t length) {
  const auto index = static_cast<int64_t>(value);
  if (index < -length || index >= length) {
    throw InputError(std::string(op) + ": index " + std::to_string(index) +
                     " is out of range for a dim of " + std::to_string(length));
  }
  return index < 0 ? index + length : index;
}

void combine(double& target, double update, const std::string& reduction) {
  if (reduction == "add") {
    target += update;
  } else if (reduction == "mul") {
    target *= update;
  } else {
    target = update;
  }
}

void top_k_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                  std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const std::size_t axis = positive_axis(attr_int(attrs, "axis"), x.shape.size());
  const bool largest = attr_int(attrs, "largest") != 0;
  const int64_t k = attr_int(attrs, "k");
  const AxisSplit s = split_at(x.shape, axis);
  std::vector<int64_t> order(static_cast<std::size_t>(s.length));
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      const auto value = [&](int64_t j) { return x.data[(o * s.length + j) * s.inner + i]; };
      std::iota(order.begin(), order.end(), int64_t{0});
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return math::top_k_before(value(a), a, value(b), b, largest);
      });
      for (int64_t j = 0; j < k; ++j) {
        out[0].data[(o * k + j) * s.inner + i] = static_cast<double>(order[j]);
      }
    }
  }
}

void scatter_elements_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                             std::vector<RefTensor>& out) {
  const RefTensor& data = in[0];
  const RefTensor& indices = in[1];
  const std::size_t axis = positive_axis(attr_int(attrs, "axis"), data.shape.size());
  const std::string& reduction = attr_string(attrs, "reduction");
  out[0].data = data.data;
  for (std::size_t i = 0; i < indices.data.size(); ++i) {
    // Coordinates of element i of indices, with the index along axis.
    int64_t rest = static_cast<int64_t>(i);
    int64_t flat = 0;
    int64_t stride = 1;
    for (std::size_t d = data.shape.size(); d-- > 0;) {
      int64_t c = rest % indices.shape[d];
      rest /= indices.shape[d];
      if (d == axis) {
        c = checked_index("scatter_elements", indices.data[i], data.shape[d]);
      } else if (c >= data.shape[d]) {
        throw InputError("scatter_elements: indices exceed data's dim " + std::to_string(d));
      }
      flat += c * stride;
      stride *= data.shape[d];
    }
    combine(out[0].data[flat], in[2].data[i], reduction);
  }
}

// The flat offset in `data` (from dim `batch` on) of index tuple `t`.
int64_t tuple_offset(std::string_view op, const RefTensor& data, const RefTensor& indices,
                     std::size_t batch, int64_t t) {
  const std::size_t q = static_cast<std::size_t>(indices.shape.back());
  int64_t offset = 0;
  for (std::size_t j = 0; j < q; ++j) {
    const int64_t length = data.shape[batch + j];
    offset = offset * length +
             checked_index(op, indices.data[static_cast<std::size_t>(t) * q + j], length);
  }
  return offset * product(data.shape, batch + q, data.shape.size());
}

void scatter_nd_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                       std::vector<RefTensor>& out) {
  const RefTensor& data = in[0];
  const RefTensor& indices = in[1];
  const std::string& reduction = attr_string(attrs, "reduction");
  const auto q = static_cast<std::size_t>(indices.shape.back());
  const int64_t tuples = product(indices.shape, 0, indices.shape.size() - 1);
  const int64_t slice = product(data.shape, q, data.shape.size());
  out[0].data = data.data;
  for (int64_t t = 0; t < tuples; ++t) {
    const int64_t offset = tuple_offset("scatter_nd", data, indices, 0, t);
    for (int64_t e = 0; e < slice; ++e) {
      combine(out[0].data[offset + e], in[2].data[t * slice + e], reduction);
    }
  }
}

void gather_nd_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                      std::vector<RefTensor>& out) {
  const RefTensor& data = in[0];
  const RefTensor& indices = in[1];
  const auto b = static_cast<std::size_t>(attr_int(attrs, "batch_dims"));
  const auto q = static_cast<std::size_t>(indices.shape.back());
  const int64_t batches = product(data.shape, 0, b);
  const int64_t batch_size = product(data.shape, b, data.shape.size());
  const int64_t tuples = product(indices.shape, b, indices.shape.size() - 1);
  const int64_t slice = product(data.shape, b + q, data.shape.size());
  for (int64_t n = 0; n < batches; ++n) {
    for (int64_t t = 0; t < tuples; ++t) {
      const int64_t from =
          n * batch_size + tuple_offset("gather_nd", data, indices, b, n * tuples + t);
      for (int64_t e = 0; e < slice; ++e) {
        out[0].data[(n * tuples + t) * slice + e] = data.data[from + e];
      }
    }
  }
}

}  // namespace

void add_index_kernels(KernelTable& table) {
  table["top_k"] = top_k_kernel;
  table["scatter_elements"] = scatter_elements_kernel;
  table["scatter_nd"] = scatter_nd_kernel;
  table["gather_nd"] = gather_nd_kernel;
}

}  // namespace rtscope::reference::detail
