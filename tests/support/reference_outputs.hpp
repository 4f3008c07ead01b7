// The float64 reference's outputs for a graph on the inputs a model ran
// on: what the tests compare every backend's results with.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::testing {

// Outputs of `graph` on `inputs`, continuing from `states` (missing state
// buffers start zeroed), which are updated in place.
inline std::map<std::string, reference::RefTensor> reference_outputs(
    const Graph& graph, const std::map<std::string, Tensor>& inputs,
    std::map<std::string, reference::RefTensor>& states) {
  std::map<std::string, reference::RefTensor> ref_inputs;
  for (const auto& [name, tensor] : inputs) ref_inputs[name] = reference::RefTensor::from(tensor);
  return reference::run_graph(graph, ref_inputs, states);
}

// Outputs of `graph` on `inputs` from zeroed state.
inline std::map<std::string, reference::RefTensor> reference_outputs(
    const Graph& graph, const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, reference::RefTensor> states;
  return reference_outputs(graph, inputs, states);
}

// Runs `model` on `inputs` and checks every output against the reference
// (from zeroed state) within `tolerance`, relative and absolute; returns
// the outputs.
inline std::map<std::string, Tensor> expect_matches_reference(
    Model& model, const std::map<std::string, Tensor>& inputs, double tolerance) {
  const auto expected = reference_outputs(model.graph(), inputs);
  auto outputs = model.run(inputs);
  for (const auto& [name, value] : expected) {
    EXPECT_LE(reference::closeness(outputs.at(name), value, tolerance, tolerance), 1.0) << name;
  }
  return outputs;
}

}  // namespace rtscope::testing
