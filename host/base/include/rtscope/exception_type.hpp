// The demangled type of the exception being handled, for messages about an
// exception that crossed a boundary it must not (a plugin's C ABI): the
// host's slot guard and the conformance checks both name it.
#pragma once

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <typeinfo>

namespace rtscope {

// E.g. "int" or "std::runtime_error"; "unknown type" outside a handler.
// Call it only inside a catch block.
inline std::string current_exception_type() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (!type) return "unknown type";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? name.get() : type->name();
}

}  // namespace rtscope
