// The loaded shared library behind a Plugin (kept out of the public header
// so users of rtscope do not need Boost).
#pragma once

#include <boost/dll/shared_library.hpp>

#include "rtscope/plugin.hpp"

namespace rtscope {

struct Plugin::Library {
  boost::dll::shared_library library;
};

}  // namespace rtscope
