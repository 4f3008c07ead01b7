// The message of the error a piece of code throws, for tests that check
// what an error says rather than only that it is thrown.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "rtscope/error.hpp"

namespace rtscope::testing {

// what() of the `ErrorType` that `body` throws; records a test failure and
// returns "" when it throws nothing or another exception.
template <class ErrorType = InputError>
std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const ErrorType& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not the expected error type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "the code threw no error of the expected type";
  return {};
}

// Checks that `message` starts with `prefix` (where and what failed) and
// holds each of `phrases`.
inline void expect_message(const std::string& message, const std::string& prefix,
                           const std::vector<std::string>& phrases) {
  EXPECT_THAT(message, ::testing::StartsWith(prefix));
  for (const std::string& phrase : phrases) EXPECT_THAT(message, ::testing::HasSubstr(phrase));
}

// Names each instance of a TEST_P suite after its parameter's `name`.
struct NameOfCase {
  template <class Info>
  std::string operator()(const Info& info) const {
    return info.param.name;
  }
};

}  // namespace rtscope::testing
