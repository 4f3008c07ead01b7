// Options that decide how a model is partitioned across plugins. They are
// recorded with the model and in each engine file; a file written before an
// option existed loads with that option at its default.
#pragma once

#include <string>
#include <vector>

namespace rtscope {

struct CompileOptions {
  std::vector<std::string> backends;  // plugin ids in priority order
  bool fallback_data_dependent_ops = false;
  bool require_full_compilation = false;

  bool operator==(const CompileOptions&) const = default;
};

}  // namespace rtscope
