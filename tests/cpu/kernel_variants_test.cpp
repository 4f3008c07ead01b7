// Every specialized variant of the CPU plugin's products (OpenBLAS sgemm
// and sgemv, oneDNN on the calling thread and over the pool, oneDNN's
// matmul primitive on packed weights on both) against the
// float64 reference, each forced with RTSCOPE_CPU_FORCE_VARIANT, at a
// decode row, a few rows and a batch: tuning may pick any of them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/cpu_variants.hpp"
#include "support/reference_outputs.hpp"
#include "support/small_models.hpp"

namespace rtscope {
namespace {

using testing::ForcedVariant;
using testing::variant_nodes;

class LinearVariants : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }
  PluginRegistry registry_;
};

TEST_P(LinearVariants, MatchFloat64Reference) {
  const std::string variant = GetParam();
  const ForcedVariant forced(variant);
  // Widths of 160 and 144 split into column blocks that do not divide
  // evenly.
  const Graph graph =
      build_mlp(MlpParams{.layers = 2, .d_in = 40, .hidden = 160, .d_out = 144, .seed = 9});
  for (const int64_t batch : {1, 3, 48}) {
    auto model = testing::eager_cpu_model(registry_, graph);
    const Tensor x = Tensor::random(DType::f32, {batch, 40}, 20 + batch);
    const auto expected = testing::reference_outputs(graph, {{"x", x}});
    const Tensor y = model->run({{"x", x}}).at("y");
    EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-4, 1e-4), 1.0) << "batch " << batch;
    // sgemv is a candidate for a few rows only, packed weights from two
    // rows on.
    const bool offered = variant == "linear.sgemv"                     ? batch <= 4
                         : variant.starts_with("linear.onednn_packed") ? batch >= 2
                                                                       : true;
    if (offered) {
      EXPECT_GT(variant_nodes(*model, variant), 0u) << "batch " << batch;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, LinearVariants,
                         ::testing::Values("linear.sgemm", "linear.sgemv", "linear.split_n",
                                           "linear.onednn", "linear.onednn_split_n",
                                           "linear.onednn_packed", "linear.onednn_packed_split_n"),
                         [](const auto& info) { return testing::test_name_of(info.param); });

class MatmulVariants : public LinearVariants {};

// The tied LM head, logits = x · embedᵀ, is one folded matmul with b
// transposed; the Hugging Face layout makes every projection one too.
TEST_P(MatmulVariants, MatchFloat64Reference) {
  const std::string variant = GetParam();
  const ForcedVariant forced(variant);
  DecoderParams params = testing::small_decoder_params();
  params.vocab = 160;
  params.tied_embeddings = true;
  params.out_in_weights = true;
  const Graph graph = build_decoder(params);
  auto model = testing::eager_cpu_model(registry_, graph);
  std::map<std::string, reference::RefTensor> states;
  int64_t pos = 0;
  for (const int64_t seq : {4, 1, 1}) {
    const std::map<std::string, Tensor> inputs = {
        {"tokens", Tensor::random(DType::i64, {1, seq}, 30 + pos, 159.0)},
        {"pos", testing::position_tensor(pos)}};
    const auto out = model->run(inputs);
    const auto expected = testing::reference_outputs(graph, inputs, states);
    EXPECT_LE(reference::closeness(out.at("logits"), expected.at("logits"), 1e-4, 1e-4), 1.0)
        << "pos " << pos;
    EXPECT_GT(variant_nodes(*model, variant), 0u) << "pos " << pos;
    pos += seq;
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, MatmulVariants,
                         ::testing::Values("matmul.generic", "matmul.onednn", "matmul.split_n",
                                           "matmul.onednn_split_n"),
                         [](const auto& info) { return testing::test_name_of(info.param); });

// Without specialization the generic kernels run. OpenBLAS runs one
// thread per call, so a large product splits its columns over the pool by itself:
// an MLP with 64×512×1024 and 64×1024×512 products (33 M multiply-adds
// each, over the split threshold), a batch with 48 rows (under it for the
// second layer's narrower output: 48×1024×40 is 2 M), checked against the
// float64 reference.
TEST(GenericProducts, LargeOnesMatchFloat64ReferenceWithoutSpecialization) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  const Graph graph =
      build_mlp(MlpParams{.layers = 2, .d_in = 512, .hidden = 1024, .d_out = 40, .seed = 5});
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  for (Module* module : model->modules()) {
    RuntimeSettings settings = module->runtime_settings();
    settings.kernel_specialization = KernelSpecialization::none;
    module->set_runtime_settings(settings);
  }
  for (const int64_t batch : {64, 48}) {
    const Tensor x = Tensor::random(DType::f32, {batch, 512}, 60 + batch);
    const auto expected = testing::reference_outputs(graph, {{"x", x}});
    const Tensor y = model->run({{"x", x}}).at("y");
    EXPECT_LE(reference::closeness(y, expected.at("y"), 1e-4, 1e-4), 1.0) << "batch " << batch;
  }
}

}  // namespace
}  // namespace rtscope
