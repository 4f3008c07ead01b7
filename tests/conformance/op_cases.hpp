// The op conformance cases live in the rtscope_conformance library, shared
// with the rtscope-conformance tool; test suites include them from here,
// with the check every suite runs a case through.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rtscope/conformance/op_cases.hpp"
#include "rtscope/conformance/tolerance.hpp"
#include "rtscope/model.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/reference/reference.hpp"

namespace rtscope::conformance {

// Runs `model`, built from `graph` = single_op_graph(c, dtype), on the
// case's seeded inputs (seeds 1 and 2) and checks every output against the
// float64 reference op: its shape, its dtype, and closeness within `tol`.
// A fatal failure returns early (wrap the call in ASSERT_NO_FATAL_FAILURE).
inline void expect_op_matches_reference(Model& model, const Graph& graph, const OpCase& c,
                                        DType dtype, Tolerance tol) {
  for (uint64_t seed : {1u, 2u}) {
    const auto inputs = random_inputs(c, dtype, seed * 1000);
    // Taken before running: in-place ops write into their aliased input.
    std::vector<reference::RefTensor> ref_inputs;
    for (const auto& in : c.inputs) {
      ref_inputs.push_back(reference::RefTensor::from(inputs.at(in.name)));
    }
    const auto actual = model.run(inputs);
    const auto expected =
        reference::run_op(c.op, ref_inputs, resolve_attrs(*find_op(c.op), c.attrs));
    ASSERT_EQ(expected.size(), static_cast<std::size_t>(c.outputs));

    for (int o = 0; o < c.outputs; ++o) {
      const Tensor& out = actual.at("out" + std::to_string(o));
      ASSERT_EQ(out.shape(), expected[o].shape) << "output " << o;
      EXPECT_EQ(out.dtype(), graph.type_of("out" + std::to_string(o)).dtype);
      const double worst = reference::closeness(out, expected[o], tol.atol, tol.rtol);
      EXPECT_LE(worst, 1.0) << c.op << " output " << o << " seed " << seed << ": worst error is "
                            << worst << "x the tolerance";
    }
  }
}

}  // namespace rtscope::conformance
