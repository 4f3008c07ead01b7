// Reference kernels of the data movement ops: embedding, reshape, transpose,
// concat, slice, argmax, nonzero and masked_select.
#include <algorithm>
#include <cmath>
#include <string>

#include "ref_ops.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {

void embedding_kernel(const std::vector<RefTensor>& in, const AttrMap&,
                      std::vector<RefTensor>& out) {
  const RefTensor& table = in[0];  // [V, D]
  const RefTensor& ids = in[1];
  const int64_t vocab = table.shape[0], d = table.shape[1];
  for (std::size_t i = 0; i < ids.data.size(); ++i) {
    const double id = ids.data[i];
    if (!(id >= 0 && id < static_cast<double>(vocab)) || std::floor(id) != id) {
      throw InputError("embedding: id " + std::to_string(static_cast<int64_t>(id)) + " at index " +
                       std::to_string(i) + " is outside the table [0, " + std::to_string(vocab) +
                       "); check the tokens against the vocab size");
    }
    std::copy_n(table.data.begin() + static_cast<int64_t>(id) * d, d,
                out[0].data.begin() + static_cast<int64_t>(i) * d);
  }
}

void reshape_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  out[0].data = in[0].data;  // row-major data is unchanged; run_op set the shape
}

void transpose_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                      std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const std::vector<int64_t>& perm = attr_ints(attrs, "perm");
  const std::size_t rank = x.shape.size();
  std::vector<int64_t> in_strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * x.shape[d];
  // Walking the output in order, output dim d steps input dim perm[d].
  std::vector<int64_t> coords(rank, 0);
  int64_t source = 0;
  for (double& value : out[0].data) {
    value = x.data[source];
    for (std::size_t d = rank; d-- > 0;) {
      source += in_strides[perm[d]];
      if (++coords[d] < out[0].shape[d]) break;
      source -= in_strides[perm[d]] * out[0].shape[d];
      coords[d] = 0;
    }
  }
}

void concat_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                   std::vector<RefTensor>& out) {
  const std::size_t axis = positive_axis(attr_int(attrs, "axis"), out[0].shape.size());
  const AxisSplit total = split_at(out[0].shape, axis);
  int64_t start = 0;  // where this input begins along the axis
  for (const RefTensor& part : in) {
    const AxisSplit split = split_at(part.shape, axis);
    const int64_t run = split.length * split.inner;  // contiguous per outer index
    for (int64_t o = 0; o < split.outer; ++o) {
      std::copy_n(part.data.begin() + o * run, run,
                  out[0].data.begin() + (o * total.length + start) * total.inner);
    }
    start += split.length;
  }
}

void slice_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                  std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const std::size_t axis = positive_axis(attr_int(attrs, "axis"), x.shape.size());
  const AxisSplit split = split_at(x.shape, axis);
  int64_t start = attr_int(attrs, "start");
  if (start < 0) start += split.length;
  start = std::clamp<int64_t>(start, 0, split.length);
  const int64_t length = out[0].shape[axis];  // inferred with the same clamping
  for (int64_t o = 0; o < split.outer; ++o) {
    std::copy_n(x.data.begin() + (o * split.length + start) * split.inner, length * split.inner,
                out[0].data.begin() + o * length * split.inner);
  }
}

void argmax_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                   std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const AxisSplit split = split_at(x.shape, positive_axis(attr_int(attrs, "axis"), x.shape.size()));
  if (split.length == 0 && !out[0].data.empty()) {
    throw InputError("argmax: the reduced axis of shape " + shape_to_string(x.shape) +
                     " is empty, so there is no maximum");
  }
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < split.length; ++j) {
        // Strictly greater: the first index wins a tie.
        if (x.data[(o * split.length + j) * split.inner + i] >
            x.data[(o * split.length + best) * split.inner + i]) {
          best = j;
        }
      }
      out[0].data[o * split.inner + i] = static_cast<double>(best);
    }
  }
}

void nonzero_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                    std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const auto rank = static_cast<int64_t>(x.shape.size());
  std::vector<double> indices;
  int64_t found = 0;
  std::vector<int64_t> coords(x.shape.size(), 0);
  for (std::size_t i = 0; i < x.data.size(); ++i) {
    if (x.data[i] != 0.0) {
      ++found;
      for (int64_t c : coords) indices.push_back(static_cast<double>(c));
    }
    // Odometer increment: coords of element i + 1 in row-major order.
    for (std::size_t d = coords.size(); d-- > 0;) {
      if (++coords[d] < x.shape[d]) break;
      coords[d] = 0;
    }
  }
  const int64_t max_count = attr_int(attrs, "max_count");
  if (max_count > 0) {
    // Static-shape form: the first max_count rows, then rows of -1.
    indices.resize(static_cast<std::size_t>(max_count * rank), -1.0);
    out[0].shape = {max_count, rank};
  } else {
    out[0].shape = {found, rank};
  }
  out[0].data = std::move(indices);
}

void masked_select_kernel(const std::vector<RefTensor>& in, const AttrMap&,
                          std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const RefTensor& mask = in[1];
  std::vector<double> selected;
  for (std::size_t i = 0; i < x.data.size(); ++i) {
    if (mask.data[i] != 0.0) selected.push_back(x.data[i]);
  }
  out[0].shape = {static_cast<int64_t>(selected.size())};
  out[0].data = std::move(selected);
}

}  // namespace rtscope::reference::detail
