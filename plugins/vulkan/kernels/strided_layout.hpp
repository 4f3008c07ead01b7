// Index spaces with per-operand strides, as the binary and copy shaders
// take them: size-1 dims dropped and adjacent dims merged wherever every
// operand stays contiguous across them, so that shaders do as little
// index arithmetic as possible and any graph rank fits MAX_RANK.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace rtscope::vulkan {

template <size_t kOperands>
struct StridedLayout {
  std::vector<int64_t> dims;
  std::array<std::vector<int64_t>, kOperands> strides;

  // `strides[o][i]` is operand o's stride along dims[i] (0: broadcast).
  static StridedLayout merge(std::span<const int64_t> dims,
                             const std::array<std::vector<int64_t>, kOperands>& strides) {
    StridedLayout layout;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] == 1) continue;
      bool mergeable = !layout.dims.empty();
      for (size_t o = 0; mergeable && o < kOperands; ++o) {
        mergeable = layout.strides[o].back() == strides[o][i] * dims[i];
      }
      if (mergeable) {
        layout.dims.back() *= dims[i];
        for (size_t o = 0; o < kOperands; ++o) layout.strides[o].back() = strides[o][i];
      } else {
        layout.dims.push_back(dims[i]);
        for (size_t o = 0; o < kOperands; ++o) layout.strides[o].push_back(strides[o][i]);
      }
    }
    if (layout.dims.empty()) {  // a scalar, or all dims 1
      layout.dims.push_back(1);
      for (size_t o = 0; o < kOperands; ++o) layout.strides[o].push_back(0);
    }
    return layout;
  }
};

// Strides of `operand` read at the index space `out` (numpy broadcasting):
// 0 along dims the operand lacks or broadcasts.
inline std::vector<int64_t> broadcast_strides(std::span<const int64_t> operand,
                                              std::span<const int64_t> out) {
  std::vector<int64_t> strides(out.size(), 0);
  const size_t offset = out.size() - operand.size();
  int64_t stride = 1;
  for (size_t i = operand.size(); i-- > 0;) {
    strides[offset + i] = operand[i] == 1 ? 0 : stride;
    stride *= operand[i];
  }
  return strides;
}

}  // namespace rtscope::vulkan
