#include "rtscope/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

namespace rtscope {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    // Another copy of this library in the process (a static link beside
    // the shared host) finds the logger already registered.
    if (auto existing = spdlog::get("rtscope")) return existing;
    auto l = spdlog::stderr_color_mt("rtscope");
    l->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    const char* level = std::getenv("RTSCOPE_LOG_LEVEL");
    l->set_level(level ? spdlog::level::from_str(level) : spdlog::level::info);
    return l;
  }();
  return *logger;
}

}  // namespace rtscope
