// non_max_suppression's selection (ONNX NonMaxSuppression, as ONNX
// Runtime orders it): the float64 reference and the cpu plugin select with
// this one function.
//
// Per batch entry and class, boxes scoring above score_threshold are taken
// in descending score order (ties: the lower box index first); a box is
// kept unless its intersection over union with a box already kept exceeds
// iou_threshold, until max_per_class are kept. Boxes are [y1, x1, y2, x2]
// with either diagonal's corners, or [x_center, y_center, width, height]
// (center_point_box). A box of no area overlaps nothing. NaN scores are
// never above the threshold, so they are never selected.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace rtscope::math {

struct NmsParams {
  bool center_point_box = false;  // boxes as [x, y, width, height]
  int64_t max_per_class = 0;      // boxes kept per batch entry and class, at most
  double iou_threshold = 0.0;     // a box overlapping a kept one more is dropped
  double score_threshold = 0.0;   // only boxes scoring above it are candidates
};

// `box(b, s, k)`: coordinate k of box s of batch entry b; `score(b, c, s)`:
// the score of box s for class c. Returns [batch, class, box] triples in
// batch, class, then selection order.
template <typename Box, typename Score>
std::vector<std::array<int64_t, 3>> non_max_suppression(int64_t batches, int64_t classes,
                                                        int64_t boxes, const NmsParams& p,
                                                        const Box& box, const Score& score) {
  struct Corners {
    double y1, x1, y2, x2, area;
  };
  auto overlaps = [&p](const Corners& a, const Corners& b) {
    const double width = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    const double height = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    if (!(width > 0 && height > 0) || !(a.area > 0 && b.area > 0)) return false;
    const double intersection = width * height;
    const double union_area = a.area + b.area - intersection;
    return union_area > 0 && intersection / union_area > p.iou_threshold;
  };
  std::vector<std::array<int64_t, 3>> selected;
  std::vector<Corners> corners(static_cast<std::size_t>(boxes));
  std::vector<int64_t> order;
  std::vector<int64_t> kept;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t s = 0; s < boxes; ++s) {
      Corners& c = corners[static_cast<std::size_t>(s)];
      const double v0 = box(b, s, 0), v1 = box(b, s, 1), v2 = box(b, s, 2), v3 = box(b, s, 3);
      if (p.center_point_box) {
        c = {v1 - v3 / 2, v0 - v2 / 2, v1 + v3 / 2, v0 + v2 / 2, 0.0};
      } else {
        c = {std::min(v0, v2), std::min(v1, v3), std::max(v0, v2), std::max(v1, v3), 0.0};
      }
      c.area = (c.x2 - c.x1) * (c.y2 - c.y1);
    }
    for (int64_t cls = 0; cls < classes; ++cls) {
      order.clear();
      for (int64_t s = 0; s < boxes; ++s) {
        if (static_cast<double>(score(b, cls, s)) > p.score_threshold) order.push_back(s);
      }
      std::stable_sort(order.begin(), order.end(), [&](int64_t l, int64_t r) {
        return static_cast<double>(score(b, cls, l)) > static_cast<double>(score(b, cls, r));
      });
      kept.clear();
      for (int64_t s : order) {
        if (static_cast<int64_t>(kept.size()) >= p.max_per_class) break;
        const Corners& candidate = corners[static_cast<std::size_t>(s)];
        const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](int64_t k) {
          return overlaps(candidate, corners[static_cast<std::size_t>(k)]);
        });
        if (suppressed) continue;
        kept.push_back(s);
        selected.push_back({b, cls, s});
      }
    }
  }
  return selected;
}

}  // namespace rtscope::math
