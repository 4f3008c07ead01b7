// libFuzzer target: engine file headers (Module::load on arbitrary bytes).
// The registry holds no plugin, so a header that parses ends at "plugin not
// loaded"; every count and size before that comes from the input. A
// malformed file must be an rtscope::InputError, never a crash, a hang or
// an allocation the file cannot back.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "rtscope/error.hpp"
#include "rtscope/module.hpp"
#include "rtscope/plugin_registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static rtscope::PluginRegistry registry(
      rtscope::PluginRegistry::Options{.extra_dirs = {}, .use_default_dirs = false});
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    rtscope::Module::load(in, "fuzz.engine", registry);
  } catch (const rtscope::Error&) {
    // Rejected with a message: the expected outcome.
  }
  return 0;
}
