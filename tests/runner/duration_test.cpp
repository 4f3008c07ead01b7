#include "duration.hpp"

#include <gtest/gtest.h>

#include "rtscope/error.hpp"

namespace rtscope::runner {
namespace {

using std::chrono::nanoseconds;

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("2s"), nanoseconds(2'000'000'000));
  EXPECT_EQ(parse_duration("500ms"), nanoseconds(500'000'000));
  EXPECT_EQ(parse_duration("1.5s"), nanoseconds(1'500'000'000));
  EXPECT_EQ(parse_duration("250us"), nanoseconds(250'000));
  EXPECT_EQ(parse_duration("7ns"), nanoseconds(7));
  EXPECT_EQ(parse_duration("1min"), nanoseconds(60'000'000'000));
  EXPECT_EQ(parse_duration("0s"), nanoseconds(0));
}

TEST(Duration, RejectsMissingUnitsAndJunk) {
  for (const char* text : {"500", "", "s", "ms", "2 s", "-1s", "1.5.2s", "2sec", "abc", "1e400s"}) {
    EXPECT_THROW(parse_duration(text), InputError) << "'" << text << "'";
  }
}

TEST(Duration, ErrorShowsTheAcceptedForm) {
  try {
    parse_duration("500");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'500'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ms"), std::string::npos) << e.what();
  }
}

TEST(Duration, FormatsInTheLargestWholeUnit) {
  EXPECT_EQ(format_duration(nanoseconds(2'000'000'000)), "2s");
  EXPECT_EQ(format_duration(nanoseconds(1'500'000'000)), "1500ms");
  EXPECT_EQ(format_duration(nanoseconds(120'000'000'000)), "2min");
  EXPECT_EQ(format_duration(nanoseconds(0)), "0s");
  EXPECT_EQ(parse_duration(format_duration(nanoseconds(123'456))), nanoseconds(123'456));
}

}  // namespace
}  // namespace rtscope::runner
