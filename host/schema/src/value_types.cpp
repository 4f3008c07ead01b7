// Printing of the IR's value types.
#include "rtscope/value_types.hpp"

#include <string>

namespace rtscope {

std::string Dim::str() const { return is_static() ? std::to_string(value) : symbol; }

std::string shape_to_string(const SymShape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ",";
    text += shape[i].str();
  }
  return text + "]";
}

std::string ValueType::str() const {
  return std::string(to_string(dtype)) + shape_to_string(shape);
}

}  // namespace rtscope
