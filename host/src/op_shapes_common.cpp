// Type checks and symbolic broadcasting shared by the op schemas.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "op_shapes.hpp"

namespace rtscope::detail {

void fail(const std::string& message) { throw std::invalid_argument(message); }

std::string describe(std::string_view role, const ValueType& type) {
  return std::string(role) + " " + type.str();
}

void require_float(std::string_view role, const ValueType& type) {
  if (!is_floating(type.dtype)) {
    fail(describe(role, type) + " must be f32 or f16");
  }
}

void require_same_dtype(const std::vector<std::string_view>& roles,
                        const std::vector<ValueType>& types) {
  for (std::size_t i = 1; i < types.size(); ++i) {
    if (types[i].dtype != types[0].dtype) {
      fail("dtype mismatch: " + describe(roles[i], types[i]) + " must have the dtype of " +
           describe(roles[0], types[0]));
    }
  }
}

void require_rank(std::string_view role, const ValueType& type, std::size_t rank) {
  if (type.shape.size() != rank) {
    fail(describe(role, type) + " must have rank " + std::to_string(rank) + ", got rank " +
         std::to_string(type.shape.size()));
  }
}

void require_min_rank(std::string_view role, const ValueType& type, std::size_t rank) {
  if (type.shape.size() < rank) {
    fail(describe(role, type) + " must have rank >= " + std::to_string(rank) + ", got rank " +
         std::to_string(type.shape.size()));
  }
}

void require_same_dim(const Dim& a, const Dim& b, const std::string& what) {
  if (!(a == b)) fail(what + " differ: " + a.str() + " vs " + b.str());
}

void require_position(std::string_view role, const ValueType& type) {
  const bool is_one_element =
      type.shape.size() == 1 && type.shape[0].is_static() && type.shape[0].value == 1;
  if (type.dtype != DType::i64 || !is_one_element) {
    fail(describe(role, type) + " must be i64[1]");
  }
}

SymShape broadcast_shapes(std::string_view role_a, const ValueType& a, std::string_view role_b,
                          const ValueType& b) {
  const std::size_t rank = std::max(a.shape.size(), b.shape.size());
  SymShape out(rank);
  const Dim one = Dim::fixed(1);
  for (std::size_t i = 0; i < rank; ++i) {
    // Align from the right; missing leading dims act as 1.
    const std::size_t from_end = rank - 1 - i;
    const Dim da = from_end < a.shape.size() ? a.shape[a.shape.size() - 1 - from_end] : one;
    const Dim db = from_end < b.shape.size() ? b.shape[b.shape.size() - 1 - from_end] : one;
    if (da == db || db == one) {
      out[i] = da;
    } else if (da == one) {
      out[i] = db;
    } else {
      fail("cannot broadcast " + describe(role_a, a) + " with " + describe(role_b, b) + ": dim " +
           da.str() + " vs " + db.str() + " (dims must be equal or 1)");
    }
  }
  return out;
}

std::size_t normalize_axis(int64_t axis, std::size_t rank, std::string_view attr_name) {
  const auto signed_rank = static_cast<int64_t>(rank);
  if (axis < -signed_rank || axis >= signed_rank) {
    fail(std::string(attr_name) + " " + std::to_string(axis) + " is out of range for rank " +
         std::to_string(rank) + " (valid: " + std::to_string(-signed_rank) + ".." +
         std::to_string(signed_rank - 1) + ")");
  }
  return static_cast<std::size_t>(axis < 0 ? axis + signed_rank : axis);
}

}  // namespace rtscope::detail
