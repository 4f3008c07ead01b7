// The safetensors header reader on well-formed and hostile bytes: every
// malformed header is an InputError naming the file (and the tensor where
// there is one); offsets, sizes and lengths are checked before use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "rtscope/error.hpp"
#include "safetensors.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A file: the 8-byte length of `header`, the header, then `data_bytes` bytes.
std::vector<unsigned char> file_of(const std::string& header, std::size_t data_bytes,
                                   uint64_t length_override = 0) {
  const uint64_t length = length_override ? length_override : header.size();
  std::vector<unsigned char> out(8);
  std::memcpy(out.data(), &length, 8);
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0x5a);
  return out;
}

std::string error_of(const std::vector<unsigned char>& bytes) {
  try {
    parse_safetensors(bytes, "w.safetensors");
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "the header was accepted";
  return "";
}

TEST(SafetensorsReader, ReadsTensorsAndMetadata) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"s":{"dtype":"I64","shape":[],"data_offsets":[16,24]}})";
  const SafetensorsHeader h = parse_safetensors(file_of(header, 24), "w.safetensors");
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.metadata.at("format"), "pt");
  const SafetensorsTensor& a = h.tensors.at("a");
  EXPECT_EQ(a.dtype, "F32");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(a.offset, 8 + header.size());
  EXPECT_EQ(a.size, 8u);
  EXPECT_EQ(h.tensors.at("b").offset, 8 + header.size() + 8);
  EXPECT_EQ(h.tensors.at("b").size, 6u);
  EXPECT_TRUE(h.tensors.at("s").shape.empty());
  EXPECT_EQ(h.tensors.at("s").size, 8u);
}

TEST(SafetensorsReader, AcceptsEmptyTensorsAtAnyOffset) {
  const std::string header = R"({"e":{"dtype":"F16","shape":[0,4],"data_offsets":[2,2]},)"
                             R"("f":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})";
  EXPECT_EQ(parse_safetensors(file_of(header, 4), "w").tensors.at("e").size, 0u);
}

TEST(SafetensorsReader, ShortFileAndBadHeaderLengthsAreRefused) {
  EXPECT_THAT(error_of({1, 2, 3}), AllOf(HasSubstr("w.safetensors"), HasSubstr("too short")));
  EXPECT_THAT(error_of(file_of("{}", 0, uint64_t{1} << 40)), HasSubstr("over the"));
  EXPECT_THAT(error_of(file_of("{}", 0, 1000)), HasSubstr("runs past the end"));
  EXPECT_THAT(error_of(file_of("{}", 0, ~uint64_t{0})), HasSubstr("over the"));
  EXPECT_THAT(error_of(file_of("[1]", 0)), HasSubstr("JSON object"));
  EXPECT_THAT(error_of(file_of("{\"a\":", 0)), HasSubstr("not valid JSON"));
}

TEST(SafetensorsReader, OffsetsOutsideTheDataAreNamed) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  EXPECT_THAT(error_of(file_of(header, 12)),
              AllOf(HasSubstr("w.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("run past")));
  const std::string huge =
      R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[18446744073709551608,18446744073709551615]}})";
  EXPECT_THAT(error_of(file_of(huge, 16)), HasSubstr("tensor 'w'"));
  const std::string backwards = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})";
  EXPECT_THAT(error_of(file_of(backwards, 16)), HasSubstr("end before they begin"));
}

TEST(SafetensorsReader, SizeThatDisagreesWithShapeIsNamed) {
  const std::string header = R"({"w":{"dtype":"F16","shape":[4],"data_offsets":[0,6]}})";
  EXPECT_THAT(error_of(file_of(header, 8)),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("span 6 bytes but F16 [4] needs 8")));
}

TEST(SafetensorsReader, OverflowingShapesAreRefused) {
  const std::string header =
      R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})";
  EXPECT_THAT(error_of(file_of(header, 8)), AllOf(HasSubstr("tensor 'w'"), HasSubstr("overflows")));
  const std::string bytes_overflow =
      R"({"w":{"dtype":"F64","shape":[3074457345618258603],"data_offsets":[0,8]}})";
  EXPECT_THAT(error_of(file_of(bytes_overflow, 8)), HasSubstr("overflows"));
  const std::string negative = R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})";
  EXPECT_THAT(error_of(file_of(negative, 4)), HasSubstr("non-negative"));
  const std::string fractional = R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})";
  EXPECT_THAT(error_of(file_of(fractional, 4)), HasSubstr("non-negative integers"));
}

TEST(SafetensorsReader, OverlappingTensorsAreNamed) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_THAT(error_of(file_of(header, 12)),
              AllOf(HasSubstr("tensor 'b'"), HasSubstr("overlap"), HasSubstr("'a'")));
}

TEST(SafetensorsReader, DuplicateNamesAndUnknownFieldsAreRefused) {
  const std::string twice = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_THAT(error_of(file_of(twice, 8)), HasSubstr("key 'a' twice"));
  const std::string unknown_dtype = R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_THAT(error_of(file_of(unknown_dtype, 4)), HasSubstr("unknown dtype 'F12'"));
  const std::string extra_key =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"strides":[1]}})";
  EXPECT_THAT(error_of(file_of(extra_key, 4)), HasSubstr("unknown key 'strides'"));
  EXPECT_THAT(error_of(file_of(R"({"a":{"dtype":"F32","shape":[1]}})", 4)),
              HasSubstr("data_offsets"));
  EXPECT_THAT(error_of(file_of(R"({"a":[1]})", 4)), HasSubstr("tensor 'a'"));
  EXPECT_THAT(error_of(file_of(R"({"__metadata__":{"k":1}})", 0)), HasSubstr("__metadata__.k"));
}

TEST(SafetensorsReader, DeeplyNestedHeadersAreRefused) {
  const std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_THAT(error_of(file_of(deep, 0)), HasSubstr("nests deeper"));
}

}  // namespace
}  // namespace rtscope
