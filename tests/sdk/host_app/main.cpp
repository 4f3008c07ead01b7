// Loads the plugin file given on the command line through the installed
// host library and prints its id, version and first device.
#include <exception>
#include <iostream>
#include <rtscope/rtscope.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: host_app PLUGIN.so\n";
    return 2;
  }
  try {
    rtscope::RuntimeSettings settings;  // from the settings library
    rtscope::PluginRegistry registry;
    const auto plugin = registry.load({.path = argv[1]});
    std::cout << "loaded " << plugin->id() << " " << plugin->version() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "host_app: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
