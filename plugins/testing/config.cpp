#include "config.hpp"

#include <charconv>

namespace rtscope_testing {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

bool parse_count(std::string_view text, uint64_t* out) {
  text = trim(text);
  const char* end = text.data() + text.size();
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return false;
  *out = value;
  return true;
}

}  // namespace

Config parse_config(std::string_view text, std::vector<std::string>* warnings) {
  Config config;
  auto warn = [&](const std::string& line) {
    if (warnings) warnings->push_back(std::string(kConfigEnv) + ": " + line);
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view entry = text.substr(start, comma - start);
    start = comma + 1;
    if (trim(entry).empty()) continue;

    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) {
      warn("entry '" + std::string(entry) + "' is not key=value; ignored");
      continue;
    }
    const std::string key(trim(entry.substr(0, eq)));
    // Messages are kept byte for byte: tests compare them exactly.
    const std::string_view value = entry.substr(eq + 1);

    std::optional<std::string>* message = nullptr;
    uint64_t* count = nullptr;
    if (key == "fail_init") message = &config.fail_init;
    if (key == "fail_build") message = &config.fail_build;
    if (key == "fail_create_context") message = &config.fail_create_context;
    if (key == "fail_execute") message = &config.fail_execute;
    if (key == "fail_validate_settings") message = &config.fail_validate_settings;
    if (key == "compile_cost_ms") count = &config.compile_cost_ms;
    if (key == "context_cost_ms") count = &config.context_cost_ms;
    if (key == "execute_cost_us") count = &config.execute_cost_us;

    if (message) {
      *message = std::string(value);
    } else if (count) {
      if (!parse_count(value, count)) {
        warn(key + "='" + std::string(value) + "' is not a non-negative integer; ignored");
      }
    } else {
      warn("unknown key '" + key +
           "' ignored (known: fail_init, fail_build, fail_create_context, fail_execute, "
           "fail_validate_settings, compile_cost_ms, context_cost_ms, execute_cost_us)");
    }
  }
  return config;
}

}  // namespace rtscope_testing
