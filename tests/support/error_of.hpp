// The message of the error a piece of code throws, for tests that check
// what an error says rather than only that it is thrown.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <string>

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

}  // namespace rtscope::testing
