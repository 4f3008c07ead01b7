// rtscope-probe PLUGIN: loads and initializes one plugin, then exits. The
// host runs it in a child process before loading an optional plugin (and
// for rtscope-run --list-devices), so that a plugin crashing or hanging in
// init takes down this process, not the host.
//
// Exit codes: 0 loaded, 1 refused with an error (printed on stderr), 2
// usage. A crash shows as death by signal.
#include <cstdio>
#include <exception>

#include "rtscope/plugin_registry.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: rtscope-probe PLUGIN_LIBRARY\n");
    return 2;
  }
  try {
    // Never probe from the probe.
    rtscope::PluginRegistry registry(
        rtscope::PluginRegistry::Options{.extra_dirs = {}, .use_default_dirs = false});
    const auto plugin = registry.load({.path = argv[1]});
    std::printf("%s %s: %zu device(s)\n", plugin->id().c_str(), plugin->version().c_str(),
                plugin->devices().size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
