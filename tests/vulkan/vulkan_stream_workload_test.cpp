// The runner's stream workload on the Vulkan plugin: after its first step,
// the logits (which a stream does not read) stay on the device, so a
// decode step stages only its token and position in and its next token
// out, as a PyTorch decode loop copies only the token; the tokens are those
// of the same stream on the cpu plugin, whose logits are host tensors.
#include <gtest/gtest.h>

#include <span>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/templates.hpp"
#include "support/small_models.hpp"
#include "vulkan/vulkan_test_support.hpp"
#include "workload.hpp"

namespace rtscope::vulkan_testing {
namespace {

constexpr int kSteps = 6;

runner::WorkloadConfig stream_config() {
  runner::WorkloadConfig config;
  config.kind = runner::WorkloadConfig::Kind::stream;
  config.prompt = 3;
  config.tokens = kSteps + 2;
  config.seed = 9;
  return config;
}

class VulkanStreamWorkload : public VulkanTest {};

TEST_F(VulkanStreamWorkload, LogitsStayOnTheDeviceAfterTheFirstStep) {
  auto model = Model::build(build_decoder(testing::small_decoder_params()), registry_,
                            {.backends = {"vulkan"}});
  ASSERT_EQ(model->modules().size(), 1u);
  ASSERT_NE(model->output_device(model->output_index("logits")), nullptr);
  const Module& module = *model->modules()[0];
  const auto workload = runner::make_workload(stream_config(), *model);
  workload->run_iteration();  // the prompt, then a step whose logits came to the host
  const uint64_t before = counter(module, "staged_bytes");
  std::vector<int64_t> tokens;
  for (int step = 0; step < kSteps; ++step) {
    workload->run_iteration();
    tokens.push_back(workload->last_tokens()[0]);
  }
  // tokens [1, 1] and pos [1] in, next_token [1, 1] out: i64 each.
  EXPECT_EQ((counter(module, "staged_bytes") - before) / kSteps, 3 * sizeof(int64_t));

  // The same stream on the cpu plugin, whose logits are host tensors.
  registry_.load({.name = "cpu"});
  auto on_cpu = Model::build(build_decoder(testing::small_decoder_params()), registry_,
                             {.backends = {"cpu"}});
  EXPECT_EQ(on_cpu->output_device(on_cpu->output_index("logits")), nullptr);
  const auto reference = runner::make_workload(stream_config(), *on_cpu);
  reference->run_iteration();
  for (int step = 0; step < kSteps; ++step) {
    reference->run_iteration();
    EXPECT_EQ(reference->last_tokens()[0], tokens[step]) << "step " << step;
  }
}

}  // namespace
}  // namespace rtscope::vulkan_testing
