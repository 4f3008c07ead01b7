// The kit's host profile (the cpu plugin's RTSCOPE_CPU_PROFILE): medians per node
// row resist the executes another process preempted, rows that ran in
// some executes only count for their share, and groups of executes with
// other input shapes stay apart.
#include "rtscope/kit/step_profile.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace rtscope::kit {
namespace {

TEST(StepProfile, MediansPerRowAndGroupOutlierResistant) {
  StepProfile profile;
  EXPECT_EQ(profile.table(8), "");
  const uint32_t decode = profile.group("inputs [1,1] replay");
  const uint32_t prefill = profile.group("inputs [1,16] replay");
  EXPECT_EQ(profile.group("inputs [1,1] replay"), decode);
  const uint32_t gemv = profile.row(decode, "proj [linear.sgemv] [1,256]");
  const uint32_t add = profile.row(decode, "residual [add] [1,256]");
  const uint32_t generic = profile.row(decode, "proj [linear.generic] [1,256]");
  const uint32_t prefill_gemm = profile.row(prefill, "proj [linear.sgemm] [16,256]");
  EXPECT_EQ(profile.row(decode, "proj [linear.sgemv] [1,256]"), gemv);
  EXPECT_NE(profile.row(prefill, "proj [linear.sgemv] [1,256]"), gemv);

  // Four executes: one preempted (a 1 ms gemv), the generic kernel ran once.
  for (const uint64_t gemv_ns : {20'000, 1'000'000, 20'000, 22'000}) {
    profile.add_row(gemv, gemv_ns);
    profile.add_row(add, 1'000);
    profile.add_execute(decode, gemv_ns + 5'000);
  }
  profile.add_row(generic, 40'000);
  profile.add_row(prefill_gemm, 300'000);
  profile.add_execute(prefill, 310'000);

  const std::string table = profile.table(8);
  // Median execute 27 us; rows: gemv 22 + add 1 + generic 40 / 4 = 33.
  EXPECT_NE(table.find("inputs [1,1] replay: 4 executes; median 27.0 us per execute, 33.0 us"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("inputs [1,16] replay: 1 executes; median 310.0 us"), std::string::npos)
      << table;
  // The decode group (more executes) first; within it the gemv row first,
  // the generic one (40 us once in four executes: 10 us each) second.
  const size_t gemv_at = table.find("proj [linear.sgemv]");
  const size_t generic_at = table.find("proj [linear.generic]");
  const size_t add_at = table.find("residual [add]");
  const size_t prefill_at = table.find("inputs [1,16]");
  ASSERT_NE(add_at, std::string::npos) << table;
  EXPECT_LT(gemv_at, generic_at);
  EXPECT_LT(generic_at, add_at);
  EXPECT_LT(add_at, prefill_at);
  EXPECT_NE(table.find("0.2  proj [linear.generic]"), std::string::npos) << table;

  // One row shown per group: the rest are counted.
  EXPECT_NE(profile.table(1).find("(2 more rows)"), std::string::npos);
}

// The switch is the backend's own variable: set to anything but "0" turns
// the profile on; unset, empty or "0" leaves it off.
TEST(StepProfile, RequestedReadsTheBackendsVariable) {
  const char* variable = "RTSCOPE_KIT_TEST_PROFILE";
  ::unsetenv(variable);
  EXPECT_FALSE(StepProfile::requested(variable));
  ::setenv(variable, "", 1);
  EXPECT_FALSE(StepProfile::requested(variable));
  ::setenv(variable, "0", 1);
  EXPECT_FALSE(StepProfile::requested(variable));
  ::setenv(variable, "1", 1);
  EXPECT_TRUE(StepProfile::requested(variable));
  EXPECT_FALSE(StepProfile::requested("RTSCOPE_KIT_TEST_PROFILE_UNSET"));
  ::unsetenv(variable);
}

}  // namespace
}  // namespace rtscope::kit
