// Exceptions thrown by the rtscope C++ API. Every message names the file,
// plugin, module, key or setting involved and says what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace rtscope {

// Base of all rtscope errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad configuration or graph input (YAML, settings, shapes, dtypes).
class InputError : public Error {
 public:
  using Error::Error;
};

// A plugin could not be loaded or a plugin call failed.
class PluginError : public Error {
 public:
  using Error::Error;
};

}  // namespace rtscope
