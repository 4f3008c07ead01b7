// Tensor sizes are computed without wrapping around: a shape whose element
// count or byte size does not fit in 64 bits, or that needs more memory
// than the machine has, is one InputError naming the dtype, the shape and
// the bytes asked for, never a tiny allocation written far past its end, a
// bare std::bad_alloc or a silent empty tensor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "rtscope/tensor.hpp"
#include "support/error_of.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t k2To62 = int64_t{1} << 62;

TEST(CheckedMath, DetectsOverflowInEveryOperation) {
  EXPECT_EQ(checked::mul<int64_t>(3, 4), 12);
  EXPECT_FALSE(checked::mul<int64_t>(k2To62, 2));
  EXPECT_FALSE(checked::mul<uint64_t>(uint64_t{1} << 32, uint64_t{1} << 32));
  EXPECT_EQ(checked::add<uint32_t>(1, 2), 3u);
  EXPECT_FALSE(checked::add<uint32_t>(UINT32_MAX, 1));
  EXPECT_EQ(checked::product<int64_t>(Shape{2, 3, 4}), 24);
  EXPECT_EQ(checked::product<int64_t>(Shape{}), 1);
  EXPECT_FALSE(checked::product<int64_t>(Shape{65536, 65536, 65536, 65536}));
  EXPECT_TRUE(checked::fits(10, 12, 120));
  EXPECT_FALSE(checked::fits(11, 12, 120));
  EXPECT_FALSE(checked::fits(uint64_t{1} << 63, 4, UINT64_MAX));
}

// Was signed overflow (UBSan: tensor.cpp) returning a wrapped count.
TEST(TensorSizes, ElementCountOverflowIsAnInputError) {
  EXPECT_THAT(testing::error_of([] {
                element_count({k2To62, 4});
              }),
              AllOf(HasSubstr("[4611686018427387904,4]"), HasSubstr("64 bits")));
  // 2^64 elements used to wrap to exactly 0: an empty tensor, silently.
  EXPECT_THAT(testing::error_of([] {
                element_count({65536, 65536, 65536, 65536});
              }),
              HasSubstr("[65536,65536,65536,65536]"));
}

// Was a 0-byte allocation (4 * 2^62 wraps to 0) filled with 2^62 values: a
// heap-buffer-overflow.
TEST(TensorSizes, RandomWithAWrappingByteSizeIsAnInputError) {
  const std::string message = testing::error_of([] {
    Tensor::random(DType::f32, {k2To62, 1}, /*seed=*/1);
  });
  EXPECT_THAT(message, AllOf(HasSubstr("f32[4611686018427387904,1]"), HasSubstr("1.84e+19 bytes"),
                             HasSubstr("overflows")));
  EXPECT_THAT(testing::error_of([] { Tensor::zeros(DType::i64, {k2To62}); }),
              HasSubstr("i64[4611686018427387904]"));
}

// Was a bare std::bad_alloc.
TEST(TensorSizes, MoreThanTheMachineHoldsNamesTheBytes) {
  const std::string message =
      testing::error_of([] { Tensor::empty(DType::f32, {int64_t{1} << 40}); });
  EXPECT_THAT(message, AllOf(HasSubstr("f32[1099511627776]"),
                             HasSubstr("needs 4398046511104 bytes (4.0 TiB)"),
                             HasSubstr("of memory (RAM and swap)")));
}

TEST(TensorSizes, TensorBytesNamesWhatItChecks) {
  EXPECT_EQ(tensor_bytes(DType::f16, {3, 5}), 30u);
  EXPECT_EQ(tensor_bytes(DType::f32, {0, k2To62}), 0u);
  EXPECT_THAT(testing::error_of([] {
                tensor_bytes(DType::f32, {k2To62, 2}, "weight 'w'");
              }),
              AllOf(HasSubstr("weight 'w' f32[4611686018427387904,2]"), HasSubstr("bytes")));
  EXPECT_THAT(testing::error_of([] {
                tensor_bytes(DType::f32, {2, -3}, "input 'x'");
              }),
              AllOf(HasSubstr("input 'x' f32[2,-3]"), HasSubstr("negative")));
}

TEST(TensorSizes, WrapRejectsWrappingSizes) {
  float value = 0;
  EXPECT_THAT(testing::error_of([&] {
                Tensor::wrap(DType::f32, {k2To62, 4}, &value, nullptr);
              }),
              HasSubstr("overflows"));
}

}  // namespace
}  // namespace rtscope
