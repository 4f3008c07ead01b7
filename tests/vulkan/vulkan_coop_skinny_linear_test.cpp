// The skinny f16 linear on tensor cores (skinny_coop.comp), against the
// float64 reference: row counts 1..16 (RTSCOPE_VULKAN_SKINNY=coop, so a
// single row runs on it too), N and K off multiples of 64 (a last partial
// tile of 16 columns), with a bias, a fused residual add, a fused rmsnorm,
// a fused SwiGLU gate and a fused rope; and a K off its 16-wide step,
// which stays on matvec_t; each case on every build of skinny_coop.comp
// (RTSCOPE_VULKAN_SKINNY_COOP). Needs a device with f16 cooperative
// matrices (VK_NV_cooperative_matrix): elsewhere (lavapipe) each case runs
// on matvec_t (the default build's case only: the others would run the
// same), checks the same numbers and fusions, then skips and says so.
#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/skinny_product.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/small_models.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/f16_products_probe.hpp"
#include "vulkan/fusion_check.hpp"
#include "vulkan/matvec_t_probe.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan {
void PrintTo(const SkinnyCoopBuild& build, std::ostream* out) { *out << "build " << build.name; }
}  // namespace rtscope::vulkan

namespace rtscope::vulkan_testing {
namespace {

using testing::seeded_init;

struct SkinnyCase {
  int64_t rows;
  int64_t k;
  int64_t n;  // with a rope: heads * head_dim
  bool bias = false;
  bool residual = false;  // y = linear(...) + r, fused into the projection
  bool norm = false;      // the projection reads rmsnorm(x, gain), fused
  bool gated = false;     // y = silu(linear(n, wg)) * linear(n, wu), fused
  int64_t head_dim = 0;   // > 0: y = rope(reshape(linear(...)), pos), fused
  bool streams = false;   // rope: x is [rows, 1, K], one position per row
  bool coop = true;       // runs on skinny_coop.comp (else on matvec_t)
};

void PrintTo(const SkinnyCase& c, std::ostream* out) {
  *out << c.rows << " rows, K " << c.k << ", N " << c.n << (c.bias ? ", bias" : "")
       << (c.residual ? ", residual" : "") << (c.norm ? ", normed" : "")
       << (c.gated ? ", gated" : "");
  if (c.head_dim > 0) *out << ", rope head_dim " << c.head_dim;
  if (c.streams) *out << ", a position per row";
}

// The case's name in test names: m8_k272_n200_bias_residual.
std::string case_name(const SkinnyCase& c) {
  std::string name =
      "m" + std::to_string(c.rows) + "_k" + std::to_string(c.k) + "_n" + std::to_string(c.n);
  if (c.bias) name += "_bias";
  if (c.residual) name += "_residual";
  if (c.norm) name += "_norm";
  if (c.gated) name += "_gated";
  if (c.head_dim > 0) name += "_rope" + std::to_string(c.head_dim);
  if (c.streams) name += "_streams";
  return name;
}

// x as the graph takes it: [rows, K], or with a rope [B, S, K], the rows
// one sequence (S = rows) or one stream each (B = rows, own positions).
Shape x_shape(const SkinnyCase& c) {
  if (c.head_dim == 0) return {c.rows, c.k};
  return c.streams ? Shape{c.rows, 1, c.k} : Shape{1, c.rows, c.k};
}

Tensor positions(const SkinnyCase& c) {
  if (!c.streams) return testing::position_tensor(37);
  Tensor t = Tensor::empty(DType::i64, {c.rows});
  for (int64_t r = 0; r < c.rows; ++r) t.data_as<int64_t>()[r] = 5 + 23 * r;
  return t;
}

Graph skinny_graph(const SkinnyCase& c) {
  testing::GraphBuilder g("skinny_coop");
  g.input("x", DType::f16, x_shape(c)).weight("w", DType::f16, {c.k, c.n}, seeded_init(31, 0.5));
  const std::string x = optional_rmsnorm(g, c.norm, DType::f16, c.k, 32);
  std::vector<std::string> projection_inputs = {x, "w"};
  if (c.bias) {
    g.weight("b", DType::f16, {c.n}, seeded_init(33, 0.5));
    projection_inputs.push_back("b");
  }
  g.node("proj", "linear", projection_inputs, "p");
  std::string y = "p";
  if (c.gated) {
    g.weight("wu", DType::f16, {c.k, c.n}, seeded_init(34, 0.5))
        .node("act", "silu", {"p"}, "s")
        .node("up_proj", "linear", {x, "wu"}, "u")
        .node("gate_mul", "mul", {"s", "u"}, "g");
    y = "g";
  }
  if (c.head_dim > 0) {
    g.input("pos", DType::i64, {c.streams ? c.rows : 1})
        .node("split", "reshape", {y}, "heads",
              {{"shape", std::vector<int64_t>{0, 0, c.n / c.head_dim, c.head_dim}}})
        .node("rot", "rope", {"heads", "pos"}, "r", {{"base", 10000.0}});
    y = "r";
  }
  if (c.residual) {
    g.input("skip", DType::f16, {c.rows, c.n}).node("add", "add", {y, "skip"}, "sum");
    y = "sum";
  }
  return g.outputs({y}).build();
}

using vulkan::kSkinnyCoopBuilds;
using vulkan::SkinnyCoopBuild;

class VulkanCoopSkinnyLinear
    : public ::testing::TestWithParam<std::tuple<SkinnyCase, SkinnyCoopBuild>> {
 protected:
  void SetUp() override {
    // Read when the plugin loads: tensor cores for every row count, the
    // build under test, and the profile, whose batch labels name the
    // pipelines that ran.
    const testing::EnvGuard skinny("RTSCOPE_VULKAN_SKINNY", "coop");
    const std::string build(std::get<1>(GetParam()).name);
    const testing::EnvGuard coop_build("RTSCOPE_VULKAN_SKINNY_COOP", build.c_str());
    const testing::EnvGuard profile("RTSCOPE_VULKAN_PROFILE", "1");
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry_);
  }
  PluginRegistry registry_;
};

TEST_P(VulkanCoopSkinnyLinear, MatchesFloat64Reference) {
  const auto& [c, build] = GetParam();
  const bool default_build = build.name == kSkinnyCoopBuilds.front().name;
  auto model = Model::build(skinny_graph(c), registry_, {.backends = {"vulkan"}});
  std::string reason;
  for (const NodePlacement& placement : model->placements()) {
    if (placement.node == "proj") reason = placement.reason;
  }
  // Devices with f16 cooperative matrices list matmul_coop_f16 among the
  // linear's shaders (the engine adds the skinny product's build when it
  // stores the weight transposed, which the op's placement does not see).
  const bool tensor_cores = reason.find("matmul_coop_f16") != std::string::npos;
  if (!tensor_cores && !default_build) {
    GTEST_SKIP() << "skipping: no f16 cooperative matrices on this Vulkan device, so build "
                 << build.name << " of skinny_coop.comp cannot run; the default build's case "
                 << "checks matvec_t here";
  }
  std::map<std::string, Tensor> inputs = {{"x", Tensor::random(DType::f16, x_shape(c), 41)}};
  if (c.residual) inputs.emplace("skip", Tensor::random(DType::f16, {c.rows, c.n}, 42));
  if (c.head_dim > 0) inputs.emplace("pos", positions(c));
  // f16 storage of a sum of K products: relative 2^-11 of the result and
  // of each fused step's rounding, as the other f16 fusion checks allow.
  testing::expect_matches_reference(*model, inputs, 2e-2);

  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "skinny_coop_products"), tensor_cores && c.coop ? 1u : 0u);
  EXPECT_EQ(counter(module, "dispatches"), 1u) << "every neighbour fused into one dispatch";
  EXPECT_EQ(counter(module, "fused_residual_adds"), c.residual ? 1u : 0u);
  EXPECT_EQ(counter(module, "fused_row_norms"), c.norm ? 1u : 0u);
  EXPECT_EQ(counter(module, "fused_gated_products"), c.gated ? 1u : 0u);
  EXPECT_EQ(counter(module, "fused_ropes"), c.head_dim > 0 ? 1u : 0u);
  expect_no_validation_errors(*model);
  // The context logs its profile when destroyed: the product's batch is
  // labelled with the pipeline that ran it, the build under test's.
  ::testing::internal::CaptureStderr();
  model.reset();
  const std::string log = ::testing::internal::GetCapturedStderr();
  if (tensor_cores && c.coop) {
    EXPECT_NE(log.find(std::string(build.shader)), std::string::npos) << log;
  } else {
    EXPECT_EQ(log.find("skinny_coop_"), std::string::npos) << log;
  }
  if (!tensor_cores) {
    GTEST_SKIP() << "skipping: this Vulkan device has no f16 cooperative matrices "
                    "(VK_NV_cooperative_matrix, 16x16x16 f16 x f16 + f32), so skinny_coop.comp "
                    "cannot run here; the case ran and matched on matvec_t ("
                 << reason << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanCoopSkinnyLinear,
    ::testing::Combine(
        ::testing::Values(
            SkinnyCase{.rows = 1, .k = 272, .n = 200, .bias = true, .residual = true},
            SkinnyCase{.rows = 3, .k = 272, .n = 200, .bias = true},
            SkinnyCase{.rows = 4, .k = 1040, .n = 96, .residual = true},  // many K steps
            SkinnyCase{.rows = 8, .k = 48, .n = 40, .bias = true, .residual = true},  // one K step
            SkinnyCase{.rows = 16, .k = 528, .n = 1000, .bias = true, .residual = true},
            SkinnyCase{.rows = 8, .k = 272, .n = 200, .residual = true, .norm = true},
            SkinnyCase{.rows = 8, .k = 272, .n = 200, .norm = true, .gated = true},
            SkinnyCase{.rows = 4, .k = 272, .n = 96, .norm = true, .head_dim = 32},
            SkinnyCase{.rows = 8, .k = 256, .n = 256, .head_dim = 64, .streams = true},
            SkinnyCase{.rows = 5, .k = 72, .n = 64, .bias = true, .coop = false}),  // K % 16 != 0
        ::testing::ValuesIn(kSkinnyCoopBuilds)),
    [](const ::testing::TestParamInfo<std::tuple<SkinnyCase, SkinnyCoopBuild>>& info) {
      std::string name = case_name(std::get<0>(info.param)) + "_";
      for (char ch : std::get<1>(info.param).name) name += ch == '-' ? '_' : ch;
      return name;
    });

// The same products on matvec_t with its pipeline specialized to the row
// count (kernel_specialization eager: blocks of up to 8 rows read each
// weight once), on every Vulkan device: 2 to 16 rows, N off multiples of
// the tasks per workgroup, K off the workgroup's stride, and each fused
// epilogue; on the split-K path with each count of weight rows per
// workgroup and of rows per pass (RTSCOPE_VULKAN_MATVEC_SPLIT and
// RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS; "" is the default), with teams of
// other sizes (RTSCOPE_VULKAN_MATVEC_TEAM_SLOTS for 5 rows on and
// RTSCOPE_VULKAN_MATVEC_FEW_ROW_TEAM_SLOTS up to 4: 1 slot of K per
// invocation, the largest teams short of one, and 0, one team per
// workgroup), with narrow products in larger teams
// (RTSCOPE_VULKAN_MATVEC_MIN_GROUPS), with one column per subgroup
// (split "0"), with f16 products (RTSCOPE_VULKAN_F16_PRODUCTS=1), and with
// teams of one subgroup that sync alone (RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS),
// and in workgroups of other sizes (RTSCOPE_VULKAN_MATVEC_WORKGROUP).
struct SplitConfig {
  const char* weight_rows;
  const char* block_rows = "";
  const char* team_slots = "";
  const char* few_row_team_slots = "";
  const char* min_groups = "";
  bool f16_products = false;
  const char* solo_teams = "";
  const char* workgroup = "";
};

class VulkanMatvecRowsLinear
    : public ::testing::TestWithParam<std::tuple<SkinnyCase, SplitConfig>> {
 protected:
  void SetUp() override {
    const testing::EnvGuard skinny("RTSCOPE_VULKAN_SKINNY", "matvec");
    const SplitConfig& split = std::get<1>(GetParam());
    const testing::EnvGuard weight_rows("RTSCOPE_VULKAN_MATVEC_SPLIT", split.weight_rows);
    const testing::EnvGuard block_rows("RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS", split.block_rows);
    const testing::EnvGuard team_slots("RTSCOPE_VULKAN_MATVEC_TEAM_SLOTS", split.team_slots);
    const testing::EnvGuard few_row_team_slots("RTSCOPE_VULKAN_MATVEC_FEW_ROW_TEAM_SLOTS",
                                               split.few_row_team_slots);
    const testing::EnvGuard min_groups("RTSCOPE_VULKAN_MATVEC_MIN_GROUPS", split.min_groups);
    const testing::EnvGuard solo_teams("RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS", split.solo_teams);
    const testing::EnvGuard workgroup("RTSCOPE_VULKAN_MATVEC_WORKGROUP", split.workgroup);
    if (split.f16_products) {
      RTSCOPE_LOAD_VULKAN_WITH_F16_PRODUCTS(registry_, f16_products_);
    } else {
      RTSCOPE_LOAD_VULKAN_OR_SKIP(registry_);
    }
  }
  PluginRegistry registry_;
  bool f16_products_ = false;  // the product runs matvec_t_f16math
};

TEST_P(VulkanMatvecRowsLinear, SpecializedToTheRowsMatchesFloat64Reference) {
  const SkinnyCase& c = std::get<0>(GetParam());
  auto model = Model::build(skinny_graph(c), registry_, {.backends = {"vulkan"}});
  if (!device_runs_matvec_t(registry_)) {
    GTEST_SKIP() << "skipping: this Vulkan device has no subgroup arithmetic, so linear "
                    "weights are not stored [N, K] and matvec_t does not run";
  }
  auto settings = runtime_config(*model, {{"kernel_specialization", "eager"}});
  std::map<std::string, Tensor> inputs = {{"x", Tensor::random(DType::f16, x_shape(c), 43)}};
  if (c.residual) inputs.emplace("skip", Tensor::random(DType::f16, {c.rows, c.n}, 44));
  if (c.head_dim > 0) inputs.emplace("pos", positions(c));
  testing::expect_matches_reference(*model, inputs, 2e-2);
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "dispatches"), 1u) << "every neighbour fused into one dispatch";
  EXPECT_EQ(counter(module, "specialized_dispatches"), 1u) << "the pipeline specialized to M";
  EXPECT_EQ(counter(module, "skinny_coop_products"), 0u);
  EXPECT_EQ(counter(module, "f16_math_products"), f16_products_ ? 1u : 0u);
  expect_no_validation_errors(*model);
}

const SkinnyCase kRowsCases[] = {
    {.rows = 2, .k = 272, .n = 202, .bias = true, .residual = true},
    {.rows = 3, .k = 4112, .n = 37, .bias = true},  // several slots of K per invocation
    {.rows = 5, .k = 1040, .n = 97, .bias = true},  // many K steps, a K tail
    {.rows = 7, .k = 2056, .n = 19, .residual = true, .norm = true},
    {.rows = 8, .k = 48, .n = 41, .residual = true},  // K below one step
    {.rows = 9, .k = 528, .n = 203, .bias = true, .residual = true},
    {.rows = 16, .k = 272, .n = 1001, .bias = true},
    {.rows = 8, .k = 272, .n = 202, .residual = true, .norm = true},
    {.rows = 6, .k = 272, .n = 198, .norm = true, .gated = true},
    {.rows = 12, .k = 272, .n = 198, .gated = true},
    {.rows = 4, .k = 272, .n = 96, .norm = true, .head_dim = 32},
    {.rows = 3, .k = 272, .n = 108, .head_dim = 36},  // 54 pairs: a part-filled last workgroup
    {.rows = 8, .k = 256, .n = 320, .head_dim = 64, .streams = true},
};

std::string rows_case_name(
    const ::testing::TestParamInfo<std::tuple<SkinnyCase, SplitConfig>>& info) {
  const SplitConfig& split = std::get<1>(info.param);
  std::string name = case_name(std::get<0>(info.param)) + "_split";
  name += *split.weight_rows == '\0' ? "default" : split.weight_rows;
  if (*split.block_rows != '\0') name += std::string("_block") + split.block_rows;
  if (*split.team_slots != '\0') name += std::string("_team") + split.team_slots;
  if (*split.few_row_team_slots != '\0') name += std::string("_few") + split.few_row_team_slots;
  if (*split.min_groups != '\0') name += std::string("_groups") + split.min_groups;
  if (split.f16_products) name += "_f16math";
  if (*split.solo_teams != '\0') name += std::string("_solo") + split.solo_teams;
  if (*split.workgroup != '\0') name += std::string("_wg") + split.workgroup;
  return name;
}

// Every case on the default split and on one column per subgroup.
INSTANTIATE_TEST_SUITE_P(Rows, VulkanMatvecRowsLinear,
                         ::testing::Combine(::testing::ValuesIn(kRowsCases),
                                            ::testing::Values(SplitConfig{""}, SplitConfig{"0"})),
                         rows_case_name);

// The smallest and largest splits on the epilogues that pair weight rows
// (gate, rope) and on row counts past one pass.
INSTANTIATE_TEST_SUITE_P(SplitSizes, VulkanMatvecRowsLinear,
                         ::testing::Combine(::testing::Values(kRowsCases[1], kRowsCases[6],
                                                              kRowsCases[8], kRowsCases[11]),
                                            ::testing::Values(SplitConfig{"2", "2"},
                                                              SplitConfig{"16", "4"})),
                         rows_case_name);

// Teams of 1 slot per invocation and of the whole workgroup, on several
// slots of K, a norm, a gate and a rope, for a few rows (3 and 4) and
// more (6 and 7): the two counts differ, so that each product takes the
// one for its rows.
INSTANTIATE_TEST_SUITE_P(TeamSizes, VulkanMatvecRowsLinear,
                         ::testing::Combine(::testing::Values(kRowsCases[1], kRowsCases[3],
                                                              kRowsCases[8], kRowsCases[10]),
                                            ::testing::Values(SplitConfig{"", "", "1", "0"},
                                                              SplitConfig{"", "", "0", "1"})),
                         rows_case_name);

// Products too narrow for the workgroups asked of them take fewer slots of
// K per invocation in larger teams: from 16 slots down to 1 where no team
// size reaches the bound (65535), and from the defaults with a bound a
// few of them reach (64), on several slots of K, a norm, a gate, a rope
// and one position per stream.
INSTANTIATE_TEST_SUITE_P(
    NarrowProducts, VulkanMatvecRowsLinear,
    ::testing::Combine(::testing::Values(kRowsCases[1], kRowsCases[3], kRowsCases[8],
                                         kRowsCases[10], kRowsCases[12]),
                       ::testing::Values(SplitConfig{"", "", "16", "16", "65535"},
                                         SplitConfig{"", "", "", "", "64"})),
    rows_case_name);

// f16 products on every case: the default split, the smallest and largest
// on the paired epilogues (gate, rope) and on rows past one pass, and
// one column per subgroup (which multiplies in f32 in that variant too).
// The 8 products of a slot are summed in f16, one more rounding of
// relative 2^-11 per slot, within the tolerance of the f16 output.
INSTANTIATE_TEST_SUITE_P(F16Products, VulkanMatvecRowsLinear,
                         ::testing::Combine(::testing::ValuesIn(kRowsCases),
                                            ::testing::Values(SplitConfig{.weight_rows = "",
                                                                          .f16_products = true})),
                         rows_case_name);
INSTANTIATE_TEST_SUITE_P(
    F16ProductSplits, VulkanMatvecRowsLinear,
    ::testing::Combine(
        ::testing::Values(kRowsCases[1], kRowsCases[6], kRowsCases[8], kRowsCases[11]),
        ::testing::Values(SplitConfig{.weight_rows = "2", .block_rows = "2", .f16_products = true},
                          SplitConfig{.weight_rows = "16", .block_rows = "4", .f16_products = true},
                          SplitConfig{.weight_rows = "0", .f16_products = true})),
    rows_case_name);

// Teams of one subgroup that sync alone. With 8-lane subgroups (lavapipe)
// a team is one subgroup where a task group is one paired task (2 weight
// rows: a gate or a rope) and its slots of K fit one subgroup: split "2"
// on 5+ rows (8 slots per invocation) and on 3 and 4 rows with 8 slots
// per invocation for few rows; 32-lane subgroups (NVIDIA) take the
// default split's teams alone too. Each case also on the default split,
// where lavapipe's teams are larger and still meet at the workgroup
// barrier.
INSTANTIATE_TEST_SUITE_P(
    SoloTeams, VulkanMatvecRowsLinear,
    ::testing::Combine(::testing::Values(kRowsCases[8], kRowsCases[9], kRowsCases[10],
                                         kRowsCases[11], kRowsCases[12]),
                       ::testing::Values(SplitConfig{.weight_rows = "2",
                                                     .few_row_team_slots = "8",
                                                     .solo_teams = "1"},
                                         SplitConfig{.weight_rows = "", .solo_teams = "1"})),
    rows_case_name);

// Workgroups of 64 and 512 invocations (8 and 64 subgroups of 8 lanes on
// lavapipe, 2 and 16 of 32 on NVIDIA): fewer or more teams per workgroup
// and task groups per dispatch, on every case, on the split-K path and on
// one column per subgroup.
INSTANTIATE_TEST_SUITE_P(
    Workgroups, VulkanMatvecRowsLinear,
    ::testing::Combine(::testing::ValuesIn(kRowsCases),
                       ::testing::Values(SplitConfig{.weight_rows = "", .workgroup = "64"},
                                         SplitConfig{.weight_rows = "", .workgroup = "512"},
                                         SplitConfig{.weight_rows = "0", .workgroup = "64"})),
    rows_case_name);

// The size reaches the device: its line names the workgroup matvec_t
// runs, which the cases above cannot tell from their results (any size
// computes the same sums).
TEST(VulkanMatvecWorkgroup, TheDeviceLineNamesTheSizeMatvecTRuns) {
  const testing::EnvGuard info_level("RTSCOPE_LOG_LEVEL", "info");
  const testing::EnvGuard workgroup("RTSCOPE_VULKAN_MATVEC_WORKGROUP", "64");
  ::testing::internal::CaptureStderr();
  std::string log;
  {
    PluginRegistry registry;
    const LoadResult load = load_vulkan(registry);
    if (load.failure.empty() && load.skip_reason.empty()) {
      const SkinnyCase c = kRowsCases[7];
      auto model = Model::build(skinny_graph(c), registry, {.backends = {"vulkan"}});
      const std::map<std::string, Tensor> inputs = {
          {"x", Tensor::random(DType::f16, x_shape(c), 45)},
          {"skip", Tensor::random(DType::f16, {c.rows, c.n}, 46)}};
      testing::expect_matches_reference(*model, inputs, 2e-2);
    }
    log = ::testing::internal::GetCapturedStderr();
    if (!load.skip_reason.empty()) GTEST_SKIP() << load.skip_reason;
    ASSERT_TRUE(load.failure.empty()) << load.failure;
  }
  EXPECT_NE(log.find("(matvec_t 64)"), std::string::npos) << log;
}

// A device without 16-bit storage (here by RTSCOPE_VULKAN_F16_STORAGE=0)
// keeps f16 tensors in f32, so f16 products do not apply: the device line
// says why, and the product runs the f32 variant and still matches.
TEST(VulkanF16Products, WithoutF16StorageTheDeviceLineSaysWhyAndTheProductStaysF32) {
  const testing::EnvGuard storage("RTSCOPE_VULKAN_F16_STORAGE", "0");
  PluginRegistry registry;
  const F16ProductsLoad load = load_vulkan_with_f16_products(registry);
  RTSCOPE_CHECK_VULKAN_LOAD(load.load);
  EXPECT_FALSE(load.f16_products);
  EXPECT_NE(load.log.find("f16 products: no (needs shaderFloat16 and 16-bit storage)"),
            std::string::npos)
      << load.log;
  const SkinnyCase& c = kRowsCases[5];
  auto model = Model::build(skinny_graph(c), registry, {.backends = {"vulkan"}});
  auto settings = runtime_config(*model, {{"kernel_specialization", "eager"}});
  std::map<std::string, Tensor> inputs = {{"x", Tensor::random(DType::f16, x_shape(c), 45)},
                                          {"skip", Tensor::random(DType::f16, {c.rows, c.n}, 46)}};
  testing::expect_matches_reference(*model, inputs, 2e-2);
  EXPECT_EQ(counter(*model->modules()[0], "f16_math_products"), 0u);
  expect_no_validation_errors(*model);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
