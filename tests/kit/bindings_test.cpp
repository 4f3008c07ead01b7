// kit::check_input_bindings and kit::read_settings: the checks every
// backend runs on what the host hands to execute and create_context.
#include "rtscope/kit/bindings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "rtscope/kit/error.hpp"
#include "rtscope/kit/settings.hpp"

namespace rtscope::kit {
namespace {

using ::testing::HasSubstr;

GraphDesc one_input_graph() {
  GraphDesc graph;
  graph.name = "mlp";
  ValueDesc x;
  x.name = "x";
  x.dtype = RTS_DTYPE_F32;
  x.dims = {-1, 4};
  x.min_dims = {1, 4};
  x.max_dims = {8, 4};
  graph.inputs = {x};
  ValueDesc y = x;
  y.name = "y";
  graph.outputs = {y};
  return graph;
}

struct Bound {
  std::vector<float> data = std::vector<float>(8);
  rts_tensor input{};
  rts_tensor output{};
  rts_execute_args args{};
  Bound() {
    input.struct_size = sizeof(input);
    input.name = "x";
    input.dtype = RTS_DTYPE_F32;
    input.rank = 2;
    input.dims[0] = 2;
    input.dims[1] = 4;
    input.data = data.data();
    input.size_bytes = data.size() * sizeof(float);
    input.residency = RTS_RESIDENCY_HOST;
    args.struct_size = sizeof(args);
    args.n_inputs = 1;
    args.inputs = &input;
    args.n_outputs = 1;
    args.outputs = &output;
  }
};

// The Error `body` throws: status and message.
std::pair<rts_status, std::string> error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return {error.status(), error.what()};
  }
  return {RTS_OK, ""};
}

TEST(Bindings, AcceptsMatchingHostBindings) {
  const GraphDesc graph = one_input_graph();
  Bound bound;
  EXPECT_NO_THROW(check_input_bindings(graph, bound.args, "cpu"));
}

TEST(Bindings, NamesTheInputAndWhatIsWrongWithItsBinding) {
  const GraphDesc graph = one_input_graph();
  {
    Bound bound;
    bound.args.n_outputs = 0;
    const auto [status, message] = error_of([&] { check_input_bindings(graph, bound.args); });
    EXPECT_EQ(status, RTS_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(message, "engine 'mlp' binds 1 inputs and 1 outputs, got 1 and 0");
  }
  {
    Bound bound;
    bound.args.inputs = nullptr;
    EXPECT_EQ(error_of([&] { check_binding_counts(graph, bound.args); }).second,
              "execute arguments have NULL input or output arrays");
  }
  {
    Bound bound;
    bound.input.dtype = RTS_DTYPE_F16;
    EXPECT_EQ(error_of([&] { check_input_bindings(graph, bound.args); }).second,
              "input 'x': bound tensor is f16 but the engine expects f32[?,4]");
  }
  {
    Bound bound;
    bound.input.name = "z";
    EXPECT_THAT(error_of([&] { check_input_bindings(graph, bound.args); }).second,
                HasSubstr("input 0 is bound as 'z' but the engine's input 0 is 'x'"));
  }
  {
    Bound bound;
    bound.input.dims[0] = -2;
    EXPECT_THAT(error_of([&] { check_input_bindings(graph, bound.args); }).second,
                HasSubstr("has a negative dim"));
  }
  {
    Bound bound;
    bound.input.size_bytes = 16;
    EXPECT_EQ(error_of([&] { check_input_bindings(graph, bound.args); }).second,
              "input 'x': f32[2,4] needs 32 bytes but the binding holds 16");
  }
}

TEST(Bindings, AHostOnlyBackendRefusesDeviceResidentInputs) {
  const GraphDesc graph = one_input_graph();
  Bound bound;
  bound.input.residency = RTS_RESIDENCY_DEVICE;
  const auto [status, message] = error_of([&] { check_input_bindings(graph, bound.args, "cpu"); });
  EXPECT_EQ(status, RTS_ERROR_UNSUPPORTED);
  EXPECT_EQ(message, "input 'x': the cpu plugin reads host memory only");
  // A backend with device memory checks those itself.
  EXPECT_NO_THROW(check_input_bindings(graph, bound.args));
}

TEST(Settings, ReadsTheFieldsTheCallerKnowsAndRefusesUnknownValues) {
  EXPECT_EQ(read_settings(nullptr).kernel_specialization, RTS_KERNEL_SPECIALIZATION_LAZY);
  rts_runtime_settings settings{};
  settings.struct_size = sizeof(settings);
  settings.kernel_specialization = RTS_KERNEL_SPECIALIZATION_NONE;
  settings.graph_capture = RTS_GRAPH_CAPTURE_WHOLE_GRAPH;
  const ContextSettings read = read_settings(&settings);
  EXPECT_EQ(read.kernel_specialization, RTS_KERNEL_SPECIALIZATION_NONE);
  EXPECT_EQ(read.graph_capture, RTS_GRAPH_CAPTURE_WHOLE_GRAPH);

  settings.graph_capture = static_cast<rts_graph_capture>(42);
  EXPECT_EQ(error_of([&] { read_settings(&settings); }).second, "unknown graph_capture 42");
  settings.graph_capture = RTS_GRAPH_CAPTURE_DISABLED;
  settings.kernel_specialization = static_cast<rts_kernel_specialization>(-1);
  EXPECT_EQ(error_of([&] { read_settings(&settings); }).second, "unknown kernel_specialization -1");
}

}  // namespace
}  // namespace rtscope::kit
