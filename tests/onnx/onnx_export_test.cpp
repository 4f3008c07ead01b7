// export_onnx: the built-in MLP written as ONNX and imported again gives
// the built-in model's outputs; ops without an ONNX form are named.
#include "rtscope/onnx_export.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"

namespace rtscope {
namespace {

TEST(OnnxExport, BuiltinMlpRoundTripsThroughOnnx) {
  const Graph original = build_template(
      "mlp", {{"d_in", "16"}, {"hidden", "32"}, {"d_out", "8"}, {"layers", "3"}, {"seed", "5"}});
  const auto path = testing::fresh_dir("export_mlp") / "mlp.onnx";
  export_onnx(original, path);
  OnnxImportOptions options;
  options.shapes["x"] = {4, 16};
  Graph imported = import_onnx(path, options);
  EXPECT_EQ(imported.weights.size(), original.weights.size());

  const Tensor x = Tensor::random(DType::f32, {4, 16}, 9, 1.0);
  std::map<std::string, reference::RefTensor> states;
  const auto expected =
      reference::run_graph(original, {{"x", reference::RefTensor::from(x)}}, states);
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(std::move(imported), registry, {.backends = {"cpu"}});
  const Tensor y = model->run({{"x", x}}).at("y");
  EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-5, 1e-4), 1.0);
}

TEST(OnnxExport, DecoderOpsWithoutOnnxFormAreNamed) {
  const Graph decoder = build_template(
      "decoder",
      {{"layers", "1"}, {"d_model", "32"}, {"heads", "2"}, {"vocab", "64"}, {"max_seq", "16"}});
  try {
    export_onnx(decoder, testing::fresh_dir("export_decoder") / "decoder.onnx");
    FAIL() << "the decoder exported";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::AnyOf(::testing::HasSubstr("state buffers"),
                                           ::testing::HasSubstr("has no ONNX export")));
  }
}

}  // namespace
}  // namespace rtscope
