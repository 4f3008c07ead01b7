// The CPU plugin's op table: every kernel group, checked against the op
// schema once.
#include "kernels/op_spec.hpp"

namespace rtscope::cpu {

const kit::OpTable<OpSpec>& op_table() {
  using enum kit::OpFamily;
  static const kit::OpTable<OpSpec> table(
      "cpu", {kOpSpecs<kElementwise>, kOpSpecs<kMatmul>, kOpSpecs<kNorm>, kOpSpecs<kReduction>,
              kOpSpecs<kAttention>, kOpSpecs<kShape>, kOpSpecs<kDataDependent>, kOpSpecs<kMath>,
              kOpSpecs<kReduce>, kOpSpecs<kWindow>, kOpSpecs<kSelect>, kOpSpecs<kIndex>});
  return table;
}

}  // namespace rtscope::cpu
