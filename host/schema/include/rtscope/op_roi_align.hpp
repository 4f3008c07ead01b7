// roi_align's pooling of one region (ONNX RoiAlign 10 and 16, as ONNX
// Runtime computes it): the float64 reference and the cpu plugin pool with
// this one function, templated on the scalar.
//
// A region [x1, y1, x2, y2] (times spatial_scale, less half a pixel under
// half_pixel) is cut into output_height x output_width bins; each bin
// averages (or, for max, takes the largest of) a grid of bilinear samples,
// sampling_ratio per side or, when 0, ceil(region size / bins). A sample
// more than a pixel outside the image counts as zero; one within a pixel
// of it reads the clamped border. Under output_half_pixel a region is at
// least one pixel wide and high. max takes, per bin, the largest of the
// samples' largest weighted corner, as ONNX Runtime does.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace rtscope::math {

struct RoiAlignParams {
  bool max_mode = false;
  bool half_pixel = true;
  int64_t output_height = 1, output_width = 1;
  int64_t sampling_ratio = 0;
  double spatial_scale = 1.0;
};

// Pools one channel plane (`pixel(y, x)` reads it at an index inside the
// height x width image) over the region into `out` (output_height x
// output_width values, row-major).
template <typename T, typename Pixel>
void roi_align_plane(const T roi[4], int64_t height, int64_t width, const RoiAlignParams& p,
                     const Pixel& pixel, T* out) {
  const T offset = p.half_pixel ? T(0.5) : T(0);
  const T scale = static_cast<T>(p.spatial_scale);
  const T start_w = roi[0] * scale - offset;
  const T start_h = roi[1] * scale - offset;
  T roi_w = roi[2] * scale - offset - start_w;
  T roi_h = roi[3] * scale - offset - start_h;
  if (!p.half_pixel) {
    roi_w = std::max(roi_w, T(1));
    roi_h = std::max(roi_h, T(1));
  }
  const T bin_h = roi_h / static_cast<T>(p.output_height);
  const T bin_w = roi_w / static_cast<T>(p.output_width);
  // Samples per bin side. A bin wider than the image samples no more
  // often than one wider by a pixel would: the rest of it lies outside and
  // reads zeros, and a hostile region cannot ask for unbounded work.
  const int64_t most = std::max(height, width) + 1;
  auto grid = [&p, most](T extent) -> int64_t {
    if (p.sampling_ratio > 0) return std::min(p.sampling_ratio, most);
    const T cells = std::ceil(extent);
    if (!(cells > 0)) return 1;  // NaN, zero or negative extents
    return cells >= static_cast<T>(most) ? most : static_cast<int64_t>(cells);
  };
  const int64_t grid_h = grid(bin_h);
  const int64_t grid_w = grid(bin_w);
  const T count = static_cast<T>(std::max<int64_t>(grid_h * grid_w, 1));
  // One bilinear sample; zero for points past the one-pixel margin (and
  // NaN points).
  auto sample = [&](T y, T x) -> T {
    const bool inside =
        y >= T(-1) && y <= static_cast<T>(height) && x >= T(-1) && x <= static_cast<T>(width);
    if (!inside) return T(0);
    y = std::max(y, T(0));
    x = std::max(x, T(0));
    int64_t y_low = static_cast<int64_t>(y);
    int64_t x_low = static_cast<int64_t>(x);
    int64_t y_high = y_low + 1;
    int64_t x_high = x_low + 1;
    if (y_low >= height - 1) {
      y_high = y_low = height - 1;
      y = static_cast<T>(y_low);
    }
    if (x_low >= width - 1) {
      x_high = x_low = width - 1;
      x = static_cast<T>(x_low);
    }
    const T ly = y - static_cast<T>(y_low), lx = x - static_cast<T>(x_low);
    const T hy = 1 - ly, hx = 1 - lx;
    const T v1 = hy * hx * static_cast<T>(pixel(y_low, x_low));
    const T v2 = hy * lx * static_cast<T>(pixel(y_low, x_high));
    const T v3 = ly * hx * static_cast<T>(pixel(y_high, x_low));
    const T v4 = ly * lx * static_cast<T>(pixel(y_high, x_high));
    return p.max_mode ? std::max(std::max(v1, v2), std::max(v3, v4)) : v1 + v2 + v3 + v4;
  };
  for (int64_t ph = 0; ph < p.output_height; ++ph) {
    for (int64_t pw = 0; pw < p.output_width; ++pw) {
      T total = T(0);
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        const T y = start_h + static_cast<T>(ph) * bin_h +
                    (static_cast<T>(iy) + T(0.5)) * bin_h / static_cast<T>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          const T x = start_w + static_cast<T>(pw) * bin_w +
                      (static_cast<T>(ix) + T(0.5)) * bin_w / static_cast<T>(grid_w);
          const T v = sample(y, x);
          // max: the largest sample, outside ones counting as zero.
          total = !p.max_mode ? total + v : iy == 0 && ix == 0 ? v : std::max(total, v);
        }
      }
      out[ph * p.output_width + pw] = p.max_mode ? total : total / count;
    }
  }
}

}  // namespace rtscope::math
