// DType names and half conversion; Tensor storage, seeding and views.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "rtscope/dtype.hpp"
#include "rtscope/error.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;

TEST(DTypeTest, NamesAndSizes) {
  EXPECT_EQ(to_string(DType::f32), "f32");
  EXPECT_EQ(to_string(DType::f16), "f16");
  EXPECT_EQ(to_string(DType::i32), "i32");
  EXPECT_EQ(to_string(DType::i64), "i64");
  EXPECT_EQ(to_string(DType::boolean), "bool");
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::f16), 2u);
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
  EXPECT_EQ(dtype_size(DType::boolean), 1u);
  EXPECT_TRUE(is_floating(DType::f32));
  EXPECT_TRUE(is_floating(DType::f16));
  EXPECT_FALSE(is_floating(DType::i64));
  EXPECT_FALSE(is_floating(DType::boolean));
}

TEST(DTypeTest, NameRoundTrip) {
  for (DType dtype : {DType::f32, DType::f16, DType::i32, DType::i64, DType::boolean}) {
    EXPECT_EQ(dtype_from_string(to_string(dtype)), dtype) << to_string(dtype);
  }
}

TEST(DTypeTest, BadNameListsValidNames) {
  try {
    dtype_from_string("float32");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'float32'"));
    EXPECT_THAT(e.what(), HasSubstr("f32, f16, i32, i64, bool"));
  }
}

TEST(HalfTest, ExactValues) {
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(0.5f), 0x3800);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);               // largest finite half
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_FLOAT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0xfbff), -65504.0f);
}

TEST(HalfTest, RoundsTiesToEven) {
  // 1 + 2^-11 is halfway between 1 (even mantissa) and 1 + 2^-10 (odd).
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3 * 2^-11 is halfway between mantissa 1 (odd) and 2 (even).
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Just above a tie rounds up.
  EXPECT_EQ(float_to_half(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  // 65520 is halfway between 65504 (odd mantissa) and 65536: goes to inf.
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  // A mantissa carry bumps the exponent: 2047.5..2048 -> 2048.
  EXPECT_EQ(float_to_half(2047.9f), 0x6800);
}

TEST(HalfTest, Subnormals) {
  const float tiny = std::ldexp(1.0f, -24);  // smallest subnormal half
  EXPECT_EQ(float_to_half(tiny), 0x0001);
  EXPECT_EQ(half_to_float(0x0001), tiny);
  EXPECT_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);   // tie -> even (zero)
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);   // 1.5 units -> 2 (even)
  EXPECT_EQ(float_to_half(std::ldexp(5.0f, -25)), 0x0002);   // 2.5 units -> 2 (even)
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);   // above the tie
  EXPECT_EQ(float_to_half(-std::ldexp(1.0f, -30)), 0x8000);  // underflow keeps the sign
  // The largest subnormal plus half a unit rounds up into the normals.
  EXPECT_EQ(float_to_half(std::ldexp(1023.5f, -24)), 0x0400);
}

TEST(HalfTest, InfinityAndNan) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(float_to_half(inf), 0x7c00);
  EXPECT_EQ(float_to_half(-inf), 0xfc00);
  EXPECT_EQ(float_to_half(1e10f), 0x7c00);
  EXPECT_EQ(half_to_float(0x7c00), inf);
  EXPECT_EQ(half_to_float(0xfc00), -inf);
  const uint16_t nan = float_to_half(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // A signalling NaN whose payload lives only in low bits must stay a NaN.
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::bit_cast<float>(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    const float value = half_to_float(half);
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(value)))) << std::hex << bits;
    } else {
      EXPECT_EQ(float_to_half(value), half) << std::hex << bits;
    }
  }
}

#ifdef __FLT16_MAX__
// The compiler's own float -> _Float16 conversion is an independent oracle.
TEST(HalfTest, MatchesCompilerConversion) {
  uint64_t state = 12345;
  int mismatches = 0;
  for (int i = 0; i < 2'000'000 && mismatches < 10; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    // Bias the exponent into and around the half range so most cases matter.
    uint32_t bits = static_cast<uint32_t>(state >> 32);
    bits = (bits & 0x807fffffu) | ((96u + (bits >> 23) % 50u) << 23);
    const float value = std::bit_cast<float>(bits);
    const auto expected = std::bit_cast<uint16_t>(static_cast<_Float16>(value));
    if (float_to_half(value) != expected) {
      ++mismatches;
      ADD_FAILURE() << "float bits " << std::hex << bits << ": got " << float_to_half(value)
                    << ", expected " << expected;
    }
  }
}
#endif

TEST(TensorTest, ShapeHelpers) {
  EXPECT_EQ(shape_to_string(Shape{2, 3}), "[2,3]");
  EXPECT_EQ(shape_to_string(Shape{}), "[]");
  EXPECT_EQ(element_count({2, 3, 4}), 24);
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({5, 0}), 0);
}

TEST(TensorTest, StorageIsAlignedAndSized) {
  for (DType dtype : {DType::f32, DType::f16, DType::i64, DType::boolean}) {
    Tensor t = Tensor::empty(dtype, {3, 5});
    EXPECT_TRUE(t.defined());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
    EXPECT_EQ(t.size_bytes(), 15 * dtype_size(dtype));
  }
  EXPECT_TRUE(Tensor::empty(DType::f32, {0}).defined());
  EXPECT_FALSE(Tensor().defined());
  EXPECT_THROW(Tensor::empty(DType::f32, {2, -1}), InputError);
}

TEST(TensorTest, ZerosAndFromBytes) {
  Tensor z = Tensor::zeros(DType::f32, {4});
  EXPECT_THAT(z.to_doubles(), ::testing::ElementsAre(0.0, 0.0, 0.0, 0.0));
  const int32_t values[] = {1, -2, 3};
  Tensor t = Tensor::from_bytes(DType::i32, {3}, values);
  EXPECT_NE(t.data(), static_cast<const void*>(values));
  EXPECT_THAT(t.to_doubles(), ::testing::ElementsAre(1.0, -2.0, 3.0));
}

// Large zeroed tensors (KV caches) come from zero pages, not a memset:
// still zero, aligned, writable and independent of each other.
TEST(TensorTest, LargeZerosAreZeroAlignedAndWritable) {
  const int64_t count = (int64_t{3} << 20) / 4 + 5;  // over the zero-page size, odd
  Tensor a = Tensor::zeros(DType::f32, {count});
  Tensor b = Tensor::zeros(DType::f32, {count});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u);
  const float* values = a.data_as<float>();
  int64_t nonzero = 0;
  for (int64_t i = 0; i < count; ++i) nonzero += values[i] != 0.0f;
  EXPECT_EQ(nonzero, 0);
  a.data_as<float>()[count - 1] = 2.5f;
  a.data_as<float>()[0] = -1.0f;
  EXPECT_EQ(a.to_doubles()[count - 1], 2.5);
  EXPECT_EQ(b.data_as<float>()[count - 1], 0.0f);
  a.zero();
  EXPECT_EQ(a.data_as<float>()[0], 0.0f);
  EXPECT_EQ(a.data_as<float>()[count - 1], 0.0f);
}

TEST(TensorTest, ToDoublesDecodesHalfAndBool) {
  const uint16_t halves[] = {0x3c00, 0xc000, 0x3800};
  EXPECT_THAT(Tensor::from_bytes(DType::f16, {3}, halves).to_doubles(),
              ::testing::ElementsAre(1.0, -2.0, 0.5));
  const uint8_t flags[] = {0, 1, 7};
  EXPECT_THAT(Tensor::from_bytes(DType::boolean, {3}, flags).to_doubles(),
              ::testing::ElementsAre(0.0, 1.0, 1.0));
}

TEST(TensorTest, WrapKeepsOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4});
  Tensor t = Tensor::wrap(DType::f32, {2, 2}, owner->data(), owner);
  EXPECT_EQ(t.data(), owner->data());
  std::weak_ptr<std::vector<float>> watch = owner;
  owner.reset();
  EXPECT_FALSE(watch.expired());  // the tensor holds it
  EXPECT_EQ(t.to_doubles()[3], 4.0);
  t = Tensor();
  EXPECT_TRUE(watch.expired());
}

TEST(TensorTest, RandomIsDeterministic) {
  Tensor a = Tensor::random(DType::f32, {8, 16}, 42);
  Tensor b = Tensor::random(DType::f32, {8, 16}, 42);
  Tensor c = Tensor::random(DType::f32, {8, 16}, 43);
  ASSERT_EQ(a.size_bytes(), b.size_bytes());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size_bytes()), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.size_bytes()), 0);
  // Element i depends only on (seed, i): a bigger tensor starts the same.
  Tensor longer = Tensor::random(DType::f32, {200}, 42);
  EXPECT_EQ(std::memcmp(a.data(), longer.data(), a.size_bytes()), 0);
}

TEST(TensorTest, RandomMatchesPinnedValues) {
  // Pinned (computed independently from the splitmix64 definition) so a
  // change of generator, which would change every seeded model, is caught.
  Tensor t = Tensor::random(DType::f32, {3}, 7);
  const std::vector<double> values = t.to_doubles();
  EXPECT_FLOAT_EQ(values[0], static_cast<float>(0.649766895240153));
  EXPECT_FLOAT_EQ(values[1], static_cast<float>(-0.9491320745394392));
  EXPECT_FLOAT_EQ(values[2], static_cast<float>(0.48438529421213605));
}

TEST(TensorTest, RandomRangesAndNotAllZero) {
  for (DType dtype : {DType::f32, DType::f16}) {
    const std::vector<double> values = Tensor::random(dtype, {1000}, 1, 0.5).to_doubles();
    int nonzero = 0;
    double low = 1, high = -1;
    for (double v : values) {
      nonzero += v != 0.0;
      low = std::min(low, v);
      high = std::max(high, v);
    }
    EXPECT_GT(nonzero, 990) << to_string(dtype);
    EXPECT_GE(low, -0.5);
    EXPECT_LE(high, 0.5);
    EXPECT_LT(low, -0.4);  // spread over the whole range
    EXPECT_GT(high, 0.4);
  }
  const std::vector<double> ids = Tensor::random(DType::i64, {1000}, 3, 9.0).to_doubles();
  std::vector<int> seen(10, 0);
  for (double id : ids) {
    ASSERT_GE(id, 0.0);
    ASSERT_LE(id, 9.0);
    ++seen[static_cast<int>(id)];
  }
  for (int count : seen) EXPECT_GT(count, 0);  // every id in 0..9 appears
}

TEST(TensorTest, ReshapedSharesStorage) {
  Tensor t = Tensor::zeros(DType::f32, {2, 3});
  Tensor r = t.reshaped({3, 2});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.data(), t.data());
  r.data_as<float>()[5] = 9.0f;
  EXPECT_EQ(t.data_as<float>()[5], 9.0f);
  EXPECT_THROW(t.reshaped({4, 2}), InputError);
}

TEST(TensorTest, CloneIsDeep) {
  Tensor t = Tensor::random(DType::f32, {4}, 5);
  Tensor copy = t;  // shares
  Tensor deep = t.clone();
  EXPECT_EQ(copy.data(), t.data());
  EXPECT_NE(deep.data(), t.data());
  EXPECT_EQ(deep.to_doubles(), t.to_doubles());
  t.data_as<float>()[0] = 100.0f;
  EXPECT_EQ(copy.data_as<float>()[0], 100.0f);
  EXPECT_NE(deep.data_as<float>()[0], 100.0f);
}

}  // namespace
}  // namespace rtscope
