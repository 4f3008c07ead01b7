// Behaviour switches read from $RTSCOPE_TESTING_CONFIG, so host tests can
// make any plugin call fail or cost time without rebuilding anything.
//
// Format: comma-separated key=value pairs (messages therefore cannot hold a
// comma). The variable is read when each affected call happens, so a test
// may change it between calls.
//
//   fail_init=MSG            init fails with RTS_ERROR_DEVICE and MSG
//   fail_build=MSG           build_engine fails with RTS_ERROR_DEVICE and MSG
//   fail_create_context=MSG  create_context fails with RTS_ERROR_DEVICE and MSG
//   fail_execute=MSG         execute fails with RTS_ERROR_DEVICE and MSG
//   fail_validate_settings=MSG
//                            validate_settings rejects every settings value
//                            with RTS_ERROR_UNSUPPORTED and MSG
//   compile_cost_ms=N        context creation sleeps N ms per node whose
//                            kernel is not in the runtime cache
//   context_cost_ms=N        context creation sleeps N ms once
//   execute_cost_us=N        each execute takes at least N us
//
// Unknown keys and malformed values are ignored with a warning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtscope_testing {

inline constexpr const char* kConfigEnv = "RTSCOPE_TESTING_CONFIG";

struct Config {
  std::optional<std::string> fail_init;
  std::optional<std::string> fail_build;
  std::optional<std::string> fail_create_context;
  std::optional<std::string> fail_execute;
  std::optional<std::string> fail_validate_settings;
  uint64_t compile_cost_ms = 0;
  uint64_t context_cost_ms = 0;
  uint64_t execute_cost_us = 0;
};

// Parses `text`; every ignored entry adds one line to `warnings`.
Config parse_config(std::string_view text, std::vector<std::string>* warnings);

}  // namespace rtscope_testing
