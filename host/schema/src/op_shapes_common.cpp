// Type checks and symbolic broadcasting shared by the op schemas.
#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>

#include "op_shapes.hpp"

namespace rtscope::schema::detail {

void fail(const std::string& message) { throw std::invalid_argument(message); }

std::string describe(std::string_view role, const ValueType& type) {
  return std::string(role) + " " + type.str();
}

void require_float(std::string_view role, const ValueType& type) {
  if (!is_floating(type.dtype)) {
    fail(describe(role, type) + " must be f32 or f16");
  }
}

const InputSpec& input_spec(std::span<const InputSpec> specs, std::size_t index) {
  return specs[std::min(index, specs.size() - 1)];
}

std::string input_role(std::span<const InputSpec> specs, std::size_t index) {
  const std::string& role = input_spec(specs, index).role;
  return role.empty() ? "input " + std::to_string(index) : role;
}

void check_dtypes(std::span<const InputSpec> specs, std::span<const ValueType> inputs) {
  if (specs.empty()) return;
  int first_float = -1;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const ValueType& type = inputs[i];
    const std::string role = input_role(specs, i);
    switch (input_spec(specs, i).dtype) {
      case InputDtype::floating:
        require_float(role, type);
        if (first_float < 0) first_float = static_cast<int>(i);
        break;
      case InputDtype::same_as_first:
        if (type.dtype != inputs[0].dtype) {
          fail("dtype mismatch: " + describe(role, type) + " must have the dtype of " +
               describe(input_role(specs, 0), inputs[0]));
        }
        break;
      case InputDtype::any:
        break;
      case InputDtype::position:
        if (type.dtype != DType::i64) fail(describe(role, type) + " must be i64[1]");
        break;
      case InputDtype::indices:
        if (type.dtype != DType::i32 && type.dtype != DType::i64) {
          fail(describe(role, type) + " must be i32 or i64");
        }
        break;
      case InputDtype::boolean:
        if (type.dtype != DType::boolean) fail(describe(role, type) + " must be bool");
        break;
    }
  }
  // Float inputs share one dtype (checked once each is known to be float,
  // so "must be f32 or f16" wins over a mismatch).
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (input_spec(specs, i).dtype != InputDtype::floating || static_cast<int>(i) == first_float) {
      continue;
    }
    if (inputs[i].dtype != inputs[first_float].dtype) {
      fail("dtype mismatch: " + describe(input_role(specs, i), inputs[i]) +
           " must have the dtype of " +
           describe(input_role(specs, first_float), inputs[first_float]));
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

void require_position(std::string_view role, const ValueType& type, const Dim& batch) {
  const bool is_vector = type.shape.size() == 1;
  const Dim& length = is_vector ? type.shape[0] : batch;
  const bool shared = length.is_static() && length.value == 1;
  // A symbolic length (a graph taking either form) is checked again once
  // its size is known.
  const bool later = !length.is_static() || !batch.is_static();
  if (type.dtype != DType::i64 || !is_vector || !(shared || later || length == batch)) {
    fail(describe(role, type) + " must be i64[1] (one position for every batch row) or i64[" +
         batch.str() + "] (one per batch row)");
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

OpSchema fixed_inputs(std::string name, std::vector<InputSpec> inputs, std::vector<AttrSpec> attrs,
                      InferFn infer) {
  OpSchema schema;
  schema.name = std::move(name);
  schema.min_inputs = schema.max_inputs = static_cast<int>(inputs.size());
  schema.inputs = std::move(inputs);
  schema.attrs = std::move(attrs);
  schema.infer = std::move(infer);
  return schema;
}

}  // namespace rtscope::schema::detail
