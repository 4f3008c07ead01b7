// grid_sample's sampling of one point (ONNX GridSample 16, whose
// expected outputs are PyTorch's grid_sample): the float64 reference and
// the cpu plugin sample with this one function, templated on the scalar.
//
// A grid point (gx, gy) in [-1, 1] maps to input coordinates by
// align_corners (-1 and 1 are the centres of the corner pixels, or their
// outer edges). padding_mode then says what lies outside: zeros, the
// border pixels (coordinates clamped), or the image mirrored at its edges.
// bilinear and nearest apply the padding to the coordinate; bicubic reads
// a 4x4 neighbourhood and applies it to each neighbour (A = -0.75).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rtscope::math {

enum class GridMode { kBilinear, kNearest, kBicubic };
enum class GridPadding { kZeros, kBorder, kReflection };

inline std::optional<GridMode> grid_mode(std::string_view name) {
  if (name == "bilinear") return GridMode::kBilinear;
  if (name == "nearest") return GridMode::kNearest;
  if (name == "bicubic") return GridMode::kBicubic;
  return std::nullopt;
}

inline std::optional<GridPadding> grid_padding(std::string_view name) {
  if (name == "zeros") return GridPadding::kZeros;
  if (name == "border") return GridPadding::kBorder;
  if (name == "reflection") return GridPadding::kReflection;
  return std::nullopt;
}

struct GridSampling {
  GridMode mode = GridMode::kBilinear;
  GridPadding padding = GridPadding::kZeros;
  bool align_corners = false;
};

namespace grid_detail {

template <typename T>
T unnormalize(T coord, int64_t size, bool align_corners) {
  return align_corners ? (coord + 1) / 2 * static_cast<T>(size - 1)
                       : ((coord + 1) * static_cast<T>(size) - 1) / 2;
}

template <typename T>
T clip(T coord, int64_t size) {
  return std::min(static_cast<T>(size - 1), std::max(coord, T(0)));
}

// Mirrors `coord` into [twice_low / 2, twice_high / 2].
template <typename T>
T reflect(T coord, int64_t twice_low, int64_t twice_high) {
  if (twice_low == twice_high) return T(0);
  const T low = static_cast<T>(twice_low) / 2;
  const T span = static_cast<T>(twice_high - twice_low) / 2;
  coord = std::abs(coord - low);
  const T extra = std::fmod(coord, span);
  const T flips = std::floor(coord / span);
  return std::fmod(flips, T(2)) == 0 ? extra + low : span - extra + low;
}

template <typename T>
T pad_coordinate(T coord, int64_t size, const GridSampling& s) {
  if (s.padding == GridPadding::kBorder) return clip(coord, size);
  if (s.padding == GridPadding::kReflection) {
    coord = s.align_corners ? reflect(coord, 0, 2 * (size - 1)) : reflect(coord, -1, 2 * size - 1);
    return clip(coord, size);
  }
  return coord;
}

// An integral-valued coordinate as an index (truncated toward zero); -1,
// which is outside every image, for NaN, infinities and coordinates too
// large to be an index, so a hostile grid reads zeros.
template <typename T>
int64_t to_index(T coord) {
  constexpr T kLimit = T(1) * (int64_t{1} << 40);
  if (!(coord > -kLimit && coord < kLimit)) return -1;
  return static_cast<int64_t>(coord);
}

template <typename T>
T cubic(T x0, T x1, T x2, T x3, T t) {
  constexpr T a = T(-0.75);
  auto near = [](T x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };       // |x| <= 1
  auto far = [](T x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };  // 1 < |x| < 2
  return x0 * far(t + 1) + x1 * near(t) + x2 * near(1 - t) + x3 * far(2 - t);
}

}  // namespace grid_detail

// The value at grid point (gx, gy) of a height x width plane; `pixel(y, x)`
// reads the plane at an index inside it.
template <typename T, typename Pixel>
T grid_sample_point(T gx, T gy, int64_t height, int64_t width, const GridSampling& s,
                    const Pixel& pixel) {
  using namespace grid_detail;  // NOLINT(google-build-using-namespace)
  auto at = [&](int64_t y, int64_t x) -> T {
    return y >= 0 && y < height && x >= 0 && x < width ? static_cast<T>(pixel(y, x)) : T(0);
  };
  if (s.mode == GridMode::kBicubic) {
    const T ix = unnormalize(gx, width, s.align_corners);
    const T iy = unnormalize(gy, height, s.align_corners);
    const T x0 = std::floor(ix);
    const T y0 = std::floor(iy);
    auto bounded = [&](T y, T x) {
      return at(to_index(pad_coordinate(y, height, s)), to_index(pad_coordinate(x, width, s)));
    };
    T rows[4];
    for (int i = 0; i < 4; ++i) {
      const T y = y0 - 1 + static_cast<T>(i);
      rows[i] = cubic(bounded(y, x0 - 1), bounded(y, x0), bounded(y, x0 + 1), bounded(y, x0 + 2),
                      ix - x0);
    }
    return cubic(rows[0], rows[1], rows[2], rows[3], iy - y0);
  }
  const T ix = pad_coordinate(unnormalize(gx, width, s.align_corners), width, s);
  const T iy = pad_coordinate(unnormalize(gy, height, s.align_corners), height, s);
  if (s.mode == GridMode::kNearest) {
    return at(to_index(std::nearbyint(iy)), to_index(std::nearbyint(ix)));
  }
  const T x0 = std::floor(ix);
  const T y0 = std::floor(iy);
  const T wx = ix - x0;
  const T wy = iy - y0;
  const int64_t xi = to_index(x0);
  const int64_t yi = to_index(y0);
  if (xi < 0 && x0 != T(-1)) return T(0);  // NaN or far outside: no neighbour inside
  if (yi < 0 && y0 != T(-1)) return T(0);
  return at(yi, xi) * (1 - wx) * (1 - wy) + at(yi, xi + 1) * wx * (1 - wy) +
         at(yi + 1, xi) * (1 - wx) * wy + at(yi + 1, xi + 1) * wx * wy;
}

}  // namespace rtscope::math
