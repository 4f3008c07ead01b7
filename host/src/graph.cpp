// Printing of IR types and locations, and value lookup.
#include "rtscope/graph.hpp"

#include <string>

#include "rtscope/error.hpp"

namespace rtscope {

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  // Appended piece by piece: `file + ":" + ...` trips a false -Wrestrict
  // in GCC 12's inlined std::string concatenation.
  std::string text = file;
  text += ':';
  text += std::to_string(line);
  if (column > 0) {
    text += ':';
    text += std::to_string(column);
  }
  return text;
}

const ValueType& Graph::type_of(const std::string& value) const {
  auto it = values.find(value);
  if (it == values.end()) {
    throw InputError("graph '" + name + "' has no value named '" + value +
                     "' (validate() fills the value types; check the name)");
  }
  return it->second;
}

}  // namespace rtscope
