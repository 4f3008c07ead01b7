// The one guard around every call from the host into a plugin slot. The ABI
// forbids C++ exceptions crossing it, but a careless plugin may still let
// one escape; without the guard `throw 42` terminates the process and a
// std::runtime_error passes as an error nobody can attribute. Here either
// becomes a PluginError naming the plugin and the slot. (A plugin built
// without unwind tables cannot be unwound through at all: that still
// terminates, which is why plugins must catch at their entry points.)
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "rtscope/log.hpp"

namespace rtscope {

// Throws PluginError "<plugin>: slot '<slot>' let a C++ exception escape
// (<type>: <what>)". Call only from a catch handler.
[[noreturn]] void throw_escaped_exception(const std::string& plugin, const char* slot);

// Calls `fn(args...)` (a slot of the plugin's table) under the guard.
// `plugin` names the plugin in messages, e.g. "plugin 'cpu' (/x/y.so)".
template <typename Fn, typename... Args>
decltype(auto) call_slot(const std::string& plugin, const char* slot, Fn fn, Args&&... args) {
  try {
    return fn(std::forward<Args>(args)...);
  } catch (...) {
    throw_escaped_exception(plugin, slot);
  }
}

// call_slot for slots whose caller cannot fail (destroy_*, device_free,
// called from destructors): an escaped exception is logged, not thrown.
template <typename Fn, typename... Args>
void call_release_slot(const std::string& plugin, const char* slot, Fn fn,
                       Args&&... args) noexcept {
  try {
    call_slot(plugin, slot, fn, std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    log().error("{}", e.what());
  }
}

}  // namespace rtscope
