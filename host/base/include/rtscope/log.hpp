// The one logger of rtscope (host, cache, runner). Level from
// $RTSCOPE_LOG_LEVEL (trace, debug, info, warn, error, off; default info).
// Writes to stderr.
#pragma once

#include <spdlog/spdlog.h>

namespace rtscope {

spdlog::logger& log();

}  // namespace rtscope
