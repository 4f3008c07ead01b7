// The CPU plugin's op table: every kernel group, checked against the op
// schema once.
#include "kernels/op_spec.hpp"

namespace rtscope::cpu {

const kit::OpTable<OpSpec>& op_table() {
  static const kit::OpTable<OpSpec> table(
      "cpu", {elementwise_op_specs(), matmul_op_specs(), norm_op_specs(), reduction_op_specs(),
              attention_op_specs(), shape_op_specs(), data_dependent_op_specs()});
  return table;
}

}  // namespace rtscope::cpu
