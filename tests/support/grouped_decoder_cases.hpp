// The cases the cpu and vulkan suites run grouped_decoder_check.hpp on: the
// small decoder (4 heads) with 2 and 1 KV heads, f32 and f16, eager and
// captured.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "rtscope/tensor.hpp"

namespace rtscope::testing {

struct GroupedDecoderCase {
  int64_t kv_heads;
  DType dtype;
  bool capture;
};

inline void PrintTo(const GroupedDecoderCase& c, std::ostream* out) {
  *out << "kv_heads " << c.kv_heads << " " << to_string(c.dtype)
       << (c.capture ? " captured" : " eager");
}

// Every combination; `pairs` keeps half of them, each kv_heads, dtype and
// capture mode still met with each other one (for slower backends).
inline std::vector<GroupedDecoderCase> grouped_decoder_cases(bool pairs = false) {
  std::vector<GroupedDecoderCase> cases;
  for (int64_t kv_heads : {2, 1}) {
    for (DType dtype : {DType::f32, DType::f16}) {
      for (bool capture : {false, true}) {
        const bool odd = (kv_heads == 1) != (dtype == DType::f16);
        if (!pairs || odd == capture) cases.push_back({kv_heads, dtype, capture});
      }
    }
  }
  return cases;
}

inline std::string grouped_decoder_case_name(
    const ::testing::TestParamInfo<GroupedDecoderCase>& info) {
  const GroupedDecoderCase& c = info.param;
  return "Hkv" + std::to_string(c.kv_heads) + "_" + std::string(to_string(c.dtype)) +
         (c.capture ? "_Captured" : "_Eager");
}

}  // namespace rtscope::testing
