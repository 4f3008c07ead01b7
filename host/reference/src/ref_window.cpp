// Reference kernels of the sliding-window ops (op_shapes_window): conv,
// max_pool, avg_pool, pad, grid_sample and roi_align. Written over any number of spatial dims
// with explicit index arithmetic.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "ref_ops.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_grid_sample.hpp"
#include "rtscope/op_pad.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/op_roi_align.hpp"

namespace rtscope::reference::detail {
namespace {

std::vector<int64_t> ints_or(const AttrMap& attrs, const char* name, std::size_t n,
                             int64_t fallback) {
  std::vector<int64_t> v = attr_ints(attrs, name);
  if (v.empty()) v.assign(n, fallback);
  return v;
}

// Advances a row-major multi-index over `shape`; false after the last.
bool next(std::vector<int64_t>& index, const Shape& shape) {
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (++index[d] < shape[d]) return true;
    index[d] = 0;
  }
  return false;
}

int64_t flat(const Shape& shape, const std::vector<int64_t>& index) {
  int64_t f = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + index[d];
  return f;
}

struct Window {
  std::size_t n = 0;  // spatial dims
  std::vector<int64_t> kernel, strides, pads, dilations;
};

Window window_of(const AttrMap& attrs, std::size_t n, std::vector<int64_t> kernel) {
  return {n, std::move(kernel), ints_or(attrs, "strides", n, 1), ints_or(attrs, "pads", 2 * n, 0),
          ints_or(attrs, "dilations", n, 1)};
}

// Writes to `index` (dims from 2 on) the spatial position that `at` (an
// index whose dims from 2 on are spatial) reaches through kernel offset
// `k` in a tensor of `shape`: the output-to-input step of conv and the
// input-to-output step of conv_transpose. False when that position lies
// in the padding.
bool reach(const Window& win, const std::vector<int64_t>& at, const std::vector<int64_t>& k,
           const Shape& shape, std::vector<int64_t>& index) {
  bool inside = true;
  for (std::size_t d = 0; d < k.size(); ++d) {
    const int64_t pos = at[2 + d] * win.strides[d] - win.pads[d] + k[d] * win.dilations[d];
    inside = inside && pos >= 0 && pos < shape[2 + d];
    index[2 + d] = pos;
  }
  return inside;
}

// The flat offset of the weight of channels `first`, `second` at kernel
// offset `k`.
int64_t weight_offset(const Shape& shape, int64_t first, int64_t second,
                      const std::vector<int64_t>& k) {
  int64_t f = first * shape[1] + second;
  for (std::size_t d = 0; d < k.size(); ++d) f = f * shape[2 + d] + k[d];
  return f;
}

// The window of conv and conv_transpose: the kernel is w's spatial dims.
Window conv_window(const AttrMap& attrs, const RefTensor& w) {
  return window_of(attrs, w.shape.size() - 2, Shape(w.shape.begin() + 2, w.shape.end()));
}

void conv_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                 std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const RefTensor& w = in[1];
  const Window win = conv_window(attrs, w);
  const std::size_t n = win.n;
  const int64_t c_per_group = w.shape[1];
  const int64_t m_per_group = w.shape[0] / attr_int(attrs, "group");
  RefTensor& y = out[0];
  std::vector<int64_t> o(y.shape.size(), 0);
  std::vector<int64_t> xi(x.shape.size(), 0);
  std::vector<int64_t> k(n, 0);
  do {
    const int64_t batch = o[0];
    const int64_t m = o[1];
    const int64_t g = m / m_per_group;
    double sum = in.size() > 2 ? in[2].data[m] : 0.0;
    for (int64_t c = 0; c < c_per_group; ++c) {
      std::fill(k.begin(), k.end(), 0);
      xi[0] = batch;
      xi[1] = g * c_per_group + c;
      do {
        if (!reach(win, o, k, x.shape, xi)) continue;
        sum += x.data[flat(x.shape, xi)] * w.data[weight_offset(w.shape, m, c, k)];
      } while (n > 0 && next(k, win.kernel));
    }
    y.data[flat(y.shape, o)] = sum;
  } while (next(o, y.shape));
}

void conv_transpose_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                           std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const RefTensor& w = in[1];
  const Window win = conv_window(attrs, w);
  const int64_t c_per_group = w.shape[0] / attr_int(attrs, "group");
  const int64_t m_per_group = w.shape[1];
  RefTensor& y = out[0];
  if (in.size() > 2) {
    for (std::size_t i = 0; i < y.data.size(); ++i) {
      y.data[i] = in[2].data[(static_cast<int64_t>(i) /
                              element_count(Shape(y.shape.begin() + 2, y.shape.end()))) %
                             y.shape[1]];
    }
  }
  std::vector<int64_t> xi(x.shape.size(), 0);
  std::vector<int64_t> yi(y.shape.size(), 0);
  std::vector<int64_t> k(win.n, 0);
  // Every input element spreads over the output through the kernel.
  do {
    const int64_t c = xi[1];
    const int64_t g = c / c_per_group;
    for (int64_t m = 0; m < m_per_group; ++m) {
      std::fill(k.begin(), k.end(), 0);
      yi[0] = xi[0];
      yi[1] = g * m_per_group + m;
      do {
        if (!reach(win, xi, k, y.shape, yi)) continue;
        y.data[flat(y.shape, yi)] +=
            x.data[flat(x.shape, xi)] * w.data[weight_offset(w.shape, c, m, k)];
      } while (next(k, win.kernel));
    }
  } while (next(xi, x.shape));
}

template <bool IsMax>
void pool_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                 std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const std::size_t n = x.shape.size() - 2;
  const Window win = window_of(attrs, n, attr_ints(attrs, "kernel"));
  const bool include_pad = !IsMax && attr_int(attrs, "count_include_pad") != 0;
  RefTensor& y = out[0];
  std::vector<int64_t> o(y.shape.size(), 0);
  do {
    double acc = IsMax ? -std::numeric_limits<double>::infinity() : 0.0;
    int64_t count = 0;
    std::vector<int64_t> k(n, 0);
    do {
      std::vector<int64_t> xi{o[0], o[1]};
      bool inside = true;
      bool in_padded = true;
      for (std::size_t d = 0; d < n; ++d) {
        const int64_t pos = o[2 + d] * win.strides[d] - win.pads[d] + k[d] * win.dilations[d];
        inside = inside && pos >= 0 && pos < x.shape[2 + d];
        in_padded = in_padded && pos < x.shape[2 + d] + win.pads[n + d];
        xi.push_back(pos);
      }
      if (include_pad && in_padded) ++count;
      if (!inside) continue;
      const double v = x.data[flat(x.shape, xi)];
      if (IsMax) {
        acc = std::isnan(v) || v > acc ? v : acc;
      } else {
        acc += v;
        if (!include_pad) ++count;
      }
    } while (next(k, win.kernel));
    y.data[flat(y.shape, o)] = IsMax ? acc : acc / static_cast<double>(count);
  } while (next(o, y.shape));
}

void pad_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const auto& pads = attr_ints(attrs, "pads");
  const std::string& mode = attr_string(attrs, "mode");
  const double value = attr_real(attrs, "value");
  const std::size_t rank = x.shape.size();
  RefTensor& y = out[0];
  if (y.data.empty()) return;
  std::vector<int64_t> o(rank, 0);
  do {
    std::vector<int64_t> xi(rank);
    bool inside = true;
    for (std::size_t d = 0; d < rank; ++d) {
      xi[d] = o[d] - pads[d];
      inside = math::pad_source(mode, x.shape[d], xi[d]) && inside;
    }
    y.data[flat(y.shape, o)] = inside ? x.data[flat(x.shape, xi)] : value;
  } while (rank > 0 && next(o, y.shape));
}

void grid_sample_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                        std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const RefTensor& grid = in[1];
  math::GridSampling sampling;
  sampling.mode = *math::grid_mode(attr_string(attrs, "mode"));
  sampling.padding = *math::grid_padding(attr_string(attrs, "padding_mode"));
  sampling.align_corners = attr_int(attrs, "align_corners") != 0;
  const int64_t channels = x.shape[1], height = x.shape[2], width = x.shape[3];
  const int64_t points = out[0].shape[2] * out[0].shape[3];
  for (int64_t plane = 0; plane < x.shape[0] * channels; ++plane) {
    const double* image = x.data.data() + plane * height * width;
    const double* g = grid.data.data() + (plane / channels) * points * 2;
    for (int64_t p = 0; p < points; ++p) {
      out[0].data[plane * points + p] = math::grid_sample_point(
          g[2 * p], g[2 * p + 1], height, width, sampling,
          [image, width](int64_t row, int64_t col) { return image[row * width + col]; });
    }
  }
}

void roi_align_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                      std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const RefTensor& rois = in[1];
  const RefTensor& batch = in[2];
  math::RoiAlignParams params;
  params.max_mode = attr_string(attrs, "mode") == "max";
  params.half_pixel = attr_string(attrs, "coordinate_transformation_mode") == "half_pixel";
  params.output_height = attr_int(attrs, "output_height");
  params.output_width = attr_int(attrs, "output_width");
  params.sampling_ratio = attr_int(attrs, "sampling_ratio");
  params.spatial_scale = attr_real(attrs, "spatial_scale");
  const int64_t channels = x.shape[1], height = x.shape[2], width = x.shape[3];
  const int64_t bins = params.output_height * params.output_width;
  for (int64_t r = 0; r < rois.shape[0]; ++r) {
    const double n = batch.data[r];
    if (!(n >= 0 && n < static_cast<double>(x.shape[0]))) {
      throw InputError("roi_align: batch index " + std::to_string(static_cast<int64_t>(n)) +
                       " of region " + std::to_string(r) + " is outside [0, " +
                       std::to_string(x.shape[0]) + ")");
    }
    for (int64_t c = 0; c < channels; ++c) {
      const double* image =
          x.data.data() + (static_cast<int64_t>(n) * channels + c) * height * width;
      math::roi_align_plane(
          rois.data.data() + r * 4, height, width, params,
          [image, width](int64_t row, int64_t col) { return image[row * width + col]; },
          out[0].data.data() + (r * channels + c) * bins);
    }
  }
}

}  // namespace

void add_window_kernels(KernelTable& table) {
  table["conv"] = conv_kernel;
  table["conv_transpose"] = conv_transpose_kernel;
  table["max_pool"] = pool_kernel<true>;
  table["avg_pool"] = pool_kernel<false>;
  table["pad"] = pad_kernel;
  table["grid_sample"] = grid_sample_kernel;
  table["roi_align"] = roi_align_kernel;
}

}  // namespace rtscope::reference::detail
