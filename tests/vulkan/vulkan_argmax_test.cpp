// argmax on the Vulkan plugin against the float64 reference where the
// answer hangs on the tie rule: each row holds its maximum several times
// (twice within one 16-byte vector, and again further on, where the same
// invocation or another one reads it), so only the first index is right.
// Rows long enough for argmax.comp's loop of 16 loads per invocation, short
// rows in whole vectors, and rows that are not (one element per load).
#include <gtest/gtest.h>

#include <vector>

#include "rtscope/half.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

struct ArgmaxCase {
  DType dtype;
  int64_t length;  // of each of the 3 rows
};

void PrintTo(const ArgmaxCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16" : "f32") << " rows of " << c.length;
}

// Seeded values in (-1, 1), then 2 at `first` and at each later index of
// `ties` that falls in the row.
void plant_maximum(Tensor& x, const ArgmaxCase& c, int64_t row, int64_t first,
                   const std::vector<int64_t>& ties) {
  std::vector<int64_t> at{first};
  for (int64_t tie : ties) {
    if (first + tie < c.length) at.push_back(first + tie);
  }
  for (int64_t index : at) {
    const size_t element = static_cast<size_t>(row * c.length + index);
    if (c.dtype == DType::f16) {
      static_cast<uint16_t*>(x.data())[element] = float_to_half(2.0f);
    } else {
      static_cast<float*>(x.data())[element] = 2.0f;
    }
  }
}

using VulkanArgmax = VulkanCaseTest<ArgmaxCase>;

TEST_P(VulkanArgmax, TheFirstOfTiedMaximaMatchesTheReference) {
  const ArgmaxCase c = GetParam();
  auto model = build(testing::GraphBuilder("argmax")
                         .input("x", c.dtype, {3, c.length})
                         .node("pick", "argmax", {"x"}, "index")
                         .outputs({"index"})
                         .build());
  Tensor x = Tensor::random(c.dtype, {3, c.length}, 71, 0.9);
  // Ties one element on (one vector), a vector on, and 1024 and 2048
  // vectors on (a 256- or 128-wide workgroup's next loads).
  const std::vector<int64_t> ties{1, 3, 8, 9, 1024 * 8 + 2, 2048 * 4, 2048 * 8 + 5};
  plant_maximum(x, c, 0, c.length / 2 / 8 * 8, ties);  // mid-row, a vector's first element
  plant_maximum(x, c, 1, c.length - 7, ties);          // in the last vector
  plant_maximum(x, c, 2, 5, ties);                     // in the first vector
  const std::map<std::string, Tensor> inputs{{"x", x}};
  const auto expected = testing::reference_outputs(model->graph(), inputs);
  const auto outputs = model->run(inputs);
  const Tensor& got = outputs.at("index");
  const reference::RefTensor& want = expected.at("index");
  ASSERT_EQ(got.dtype(), DType::i64);
  ASSERT_EQ(want.data.size(), 3u);
  const auto* got_index = static_cast<const int64_t*>(got.data());
  for (int row = 0; row < 3; ++row) {
    EXPECT_EQ(got_index[row], static_cast<int64_t>(want.data[row])) << "row " << row;
  }
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(Rows, VulkanArgmax,
                         ::testing::Values(ArgmaxCase{DType::f16, 32000},  // a vocabulary
                                           ArgmaxCase{DType::f32, 16400},
                                           ArgmaxCase{DType::f16, 40},  // whole vectors, short
                                           ArgmaxCase{DType::f32, 40},
                                           ArgmaxCase{DType::f16, 33},  // not whole vectors
                                           ArgmaxCase{DType::f32, 33}));

}  // namespace
}  // namespace rtscope::vulkan_testing
