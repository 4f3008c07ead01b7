// Which shader runs a skinny f16 linear (kernels/skinny_product.hpp): on a
// device with cooperative matrices the tensor-core skinny_coop.comp for the
// row counts and shapes it covers, matvec_t.comp for the rest, and the
// RTSCOPE_VULKAN_SKINNY switch between them. The choice is a pure function
// of the shape, the mode and the device's support, so it is checked here
// for a device with tensor cores even where none exists; the plugin test
// at the end checks that the switch reaches the plugin.
#include <gtest/gtest.h>

#include <string>

#include "kernels/skinny_product.hpp"
#include "rtscope/plugin_registry.hpp"
#include "shader_interface.hpp"
#include "support/env_guard.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan {
namespace {

// The build a device like the H200 runs.
const SkinnyCoopBuild* const kDefault = &kSkinnyCoopBuilds.front();

// A decode projection of the GPU reference decoder (d_model 2048).
SkinnyShape projection(uint32_t rows, uint32_t flags = 0) {
  return {rows, 2048, 2048, kMatmulTransposeB | flags, 0};
}

// A split-K product too narrow for the workgroups asked of it takes fewer
// slots of K per invocation, so larger teams and more workgroups: on an
// H100 or H200 (32-lane subgroups, 8 per workgroup) at 8 rows, the output
// projection (K = 2048, 2048 columns in 512 task groups) fills 64
// workgroups with 8 slots, 128 with 4 and 256 with 2.
TEST(VulkanSkinnySelection, NarrowProductsTakeFewerSlotsPerInvocation) {
  const uint32_t vecs = 2048 / 8;  // f16 slots of K
  const uint32_t storers = kMatvecSplitRows * 8;
  EXPECT_EQ(matvec_product_team_slots(8, 0, vecs, storers, 32, 8, 512), 8u) << "no bound";
  EXPECT_EQ(matvec_product_team_slots(8, 64, vecs, storers, 32, 8, 512), 8u);
  EXPECT_EQ(matvec_product_team_slots(8, 65, vecs, storers, 32, 8, 512), 4u);
  EXPECT_EQ(matvec_product_team_slots(8, 256, vecs, storers, 32, 8, 512), 2u);
  // The gated gate/up (4096 task groups of 2 pairs) fills 512 with 8.
  EXPECT_EQ(matvec_product_team_slots(8, 256, vecs, kMatvecSplitRows / 2 * 8, 32, 8, 4096), 8u);
  // No team size reaches the bound: the smallest slot count, never 0
  // (which would mean one team per workgroup, a different choice).
  EXPECT_EQ(matvec_product_team_slots(8, 65535, vecs, storers, 32, 8, 512), 1u);
  EXPECT_EQ(matvec_product_team_slots(0, 256, vecs, storers, 32, 8, 512), 0u)
      << "one team per workgroup stays so";
}

TEST(VulkanSkinnySelection, ParsesTheSwitch) {
  EXPECT_EQ(parse_skinny_mode(nullptr), SkinnyMode::kAuto);
  EXPECT_EQ(parse_skinny_mode(""), SkinnyMode::kAuto);
  EXPECT_EQ(parse_skinny_mode("coop"), SkinnyMode::kCoop);
  EXPECT_EQ(parse_skinny_mode("COOP"), SkinnyMode::kCoop);
  EXPECT_EQ(parse_skinny_mode("matvec"), SkinnyMode::kMatvec);
  EXPECT_EQ(parse_skinny_mode("tensor"), std::nullopt);
  EXPECT_EQ(parse_skinny_mode("matvec_t"), std::nullopt);
  EXPECT_EQ(skinny_mode_name(SkinnyMode::kCoop), "coop");
}

TEST(VulkanSkinnySelection, ParsesTheSplitSwitch) {
  EXPECT_EQ(parse_matvec_split(nullptr, 8), 8u);
  EXPECT_EQ(parse_matvec_split("", 8), 8u);
  EXPECT_EQ(parse_matvec_split("0", 8), 0u);
  EXPECT_EQ(parse_matvec_split("off", 8), 0u);
  EXPECT_EQ(parse_matvec_split("2", 8), 2u);
  EXPECT_EQ(parse_matvec_split("16", 8), 16u);
  EXPECT_EQ(parse_matvec_split("3", 8), std::nullopt);  // not a power of two
  EXPECT_EQ(parse_matvec_split("32", 8), std::nullopt);
  EXPECT_EQ(parse_matvec_split("8 ", 8), std::nullopt);
  EXPECT_EQ(parse_matvec_split("-8", 8), std::nullopt);
  EXPECT_EQ(parse_matvec_block_rows(nullptr, 8), 8u);
  EXPECT_EQ(parse_matvec_block_rows("4", 8), 4u);
  EXPECT_EQ(parse_matvec_block_rows("0", 8), std::nullopt);  // no pass without rows
  EXPECT_EQ(parse_matvec_block_rows("16", 8), std::nullopt);
  EXPECT_EQ(parse_matvec_groups(nullptr, 1024), 1024u);
  EXPECT_EQ(parse_matvec_groups("", 1024), 1024u);
  EXPECT_EQ(parse_matvec_groups("off", 1024), 0u);
  EXPECT_EQ(parse_matvec_groups("0", 1024), 0u);
  EXPECT_EQ(parse_matvec_groups("3", 1024), 3u);
  EXPECT_EQ(parse_matvec_groups("65535", 1024), 65535u);
  EXPECT_EQ(parse_matvec_groups("65536", 1024), std::nullopt);
  EXPECT_EQ(parse_matvec_groups("1024x", 1024), std::nullopt);
  EXPECT_EQ(parse_matvec_groups("-1", 1024), std::nullopt);
  EXPECT_EQ(parse_matvec_groups("99999999999", 1024), std::nullopt);
  EXPECT_EQ(parse_matvec_workgroup(nullptr), 0u);  // the row shaders' size
  EXPECT_EQ(parse_matvec_workgroup(""), 0u);
  EXPECT_EQ(parse_matvec_workgroup("64"), 64u);
  EXPECT_EQ(parse_matvec_workgroup("512"), 512u);
  EXPECT_EQ(parse_matvec_workgroup("96"), std::nullopt);  // not a power of two
  EXPECT_EQ(parse_matvec_workgroup("1024"), std::nullopt);
  EXPECT_EQ(parse_matvec_workgroup("0"), std::nullopt);
  // matvec_t's shared arrays: 32 subgroups of 4 weight rows x 8 sums and 8
  // squares, and 64 argmax keys; 16 weight rows in 512 invocations pass
  // lavapipe's 32 KiB, 4 do not.
  EXPECT_EQ(matvec_shared_bytes(256, 4), (32u * 40 + 64) * 4);
  EXPECT_EQ(matvec_shared_bytes(256, 0), (2u + 64) * 4);
  EXPECT_GT(matvec_shared_bytes(512, 16), 32768u);
  EXPECT_LT(matvec_shared_bytes(512, 4), 32768u);
  EXPECT_EQ(parse_matvec_team_slots(nullptr, 4), 4u);
  EXPECT_EQ(parse_matvec_team_slots("off", 4), 0u);
  EXPECT_EQ(parse_matvec_team_slots("0", 4), 0u);
  EXPECT_EQ(parse_matvec_team_slots("1", 4), 1u);
  EXPECT_EQ(parse_matvec_team_slots("16", 4), 16u);
  EXPECT_EQ(parse_matvec_team_slots("3", 4), std::nullopt);
  EXPECT_EQ(parse_matvec_team_slots("32", 4), std::nullopt);
}

// Subgroups per team of matvec_t's split-K path (the shader's
// split_team_subgroups): enough for about `team_slots` slots of K per
// invocation and one storing invocation per task and row, a power of two
// up to the workgroup's subgroups.
TEST(VulkanSkinnySelection, SizesSplitTeamsByTheSlotsOfK) {
  // An H100's 8 subgroups of 32: K = 2048 in f16 is 256 slots, 2 subgroups
  // give 4 slots each (4 teams); K = 8192 needs the whole workgroup.
  EXPECT_EQ(matvec_split_team_subgroups(256, 32, 32, 8, 4), 2u);
  EXPECT_EQ(matvec_split_team_subgroups(1024, 32, 32, 8, 4), 8u);
  EXPECT_EQ(matvec_split_team_subgroups(4096, 32, 32, 8, 4), 8u);  // capped
  EXPECT_EQ(matvec_split_team_subgroups(256, 32, 32, 8, 0), 8u);   // one team
  EXPECT_EQ(matvec_split_team_subgroups(256, 32, 32, 8, 8), 1u);
  // lavapipe's 32 subgroups of 8: the storing invocations set the floor.
  EXPECT_EQ(matvec_split_team_subgroups(34, 8, 8, 32, 4), 2u);
  EXPECT_EQ(matvec_split_team_subgroups(34, 64, 8, 32, 4), 8u);
  EXPECT_EQ(matvec_split_team_subgroups(1, 8, 8, 32, 16), 1u);
}

// Up to kMatvecFewRows rows a team aims at the few-row count of slots:
// at 2 or 4 rows an H100's teams are 2 subgroups at K = 2048 (4 slots),
// from 5 rows on one (8).
TEST(VulkanSkinnySelection, TakesTheFewRowTeamSlotsUpToFourRows) {
  EXPECT_EQ(matvec_team_slots_for_rows(8, 4, 2), 4u);
  EXPECT_EQ(matvec_team_slots_for_rows(8, 4, 4), 4u);
  EXPECT_EQ(matvec_team_slots_for_rows(8, 4, 5), 8u);
  EXPECT_EQ(matvec_team_slots_for_rows(8, 4, 16), 8u);
  EXPECT_EQ(matvec_team_slots_for_rows(kMatvecTeamSlots, kMatvecFewRowTeamSlots, 4), 4u);
  EXPECT_EQ(
      matvec_split_team_subgroups(
          256, 32, 32, 8, matvec_team_slots_for_rows(kMatvecTeamSlots, kMatvecFewRowTeamSlots, 4)),
      2u);
  EXPECT_EQ(
      matvec_split_team_subgroups(
          256, 32, 32, 8, matvec_team_slots_for_rows(kMatvecTeamSlots, kMatvecFewRowTeamSlots, 8)),
      1u);
}

TEST(VulkanSkinnySelection, ParsesTheBuildSwitch) {
  const auto shader = [](const char* value) {
    const SkinnyCoopBuild* build = find_skinny_coop_build(value);
    return build != nullptr ? std::optional<std::string_view>(build->shader) : std::nullopt;
  };
  EXPECT_EQ(shader("t4s8"), "skinny_coop_f16");
  EXPECT_EQ(shader("staged-t2s8"), "skinny_coop_staged_t2s8_f16");
  EXPECT_EQ(shader(nullptr), std::nullopt);
  EXPECT_EQ(shader(""), std::nullopt);
  EXPECT_EQ(shader("staged"), std::nullopt);
  EXPECT_EQ(shader("skinny_coop_f16"), std::nullopt);  // a build's name, not its shader
  EXPECT_EQ(skinny_coop_build_names(), "staged-t1s16, t4s8, t2s16, staged-t2s8, staged-t4s4");
}

TEST(VulkanSkinnySelection, ByDefaultADeviceRunsTheFirstBuildItCanHold) {
  // The H200's limits: 48 KiB of shared memory, 1024 invocations.
  EXPECT_EQ(default_skinny_coop_build(49152, 1024).name, "staged-t1s16");
  // Too little shared memory or too small workgroups for it: t4s8, which
  // every device with cooperative matrices can hold.
  EXPECT_EQ(default_skinny_coop_build(32768, 1024).name, "t4s8");
  EXPECT_EQ(default_skinny_coop_build(49152, 256).name, "t4s8");
  EXPECT_EQ(default_skinny_coop_build(0, 0).name, "t4s8");
  EXPECT_EQ(kSkinnyCoopFallbackBuild.name, "t4s8");
  EXPECT_TRUE(fits_skinny_coop_build(kSkinnyCoopFallbackBuild, 27136, 256));
}

TEST(VulkanSkinnySelection, EnginesAddTheVariantOnlyForF16OnTensorCores) {
  EXPECT_TRUE(adds_skinny_coop_variant(true, true, SkinnyMode::kAuto));
  EXPECT_TRUE(adds_skinny_coop_variant(true, true, SkinnyMode::kCoop));
  EXPECT_FALSE(adds_skinny_coop_variant(true, true, SkinnyMode::kMatvec));
  EXPECT_FALSE(adds_skinny_coop_variant(false, true, SkinnyMode::kCoop));  // no tensor cores
  EXPECT_FALSE(adds_skinny_coop_variant(true, false, SkinnyMode::kCoop));  // f32 linear
}

TEST(VulkanSkinnySelection, WithOneColumnPerSubgroupTensorCoresRunFourToSixteenRows) {
  for (uint32_t rows : {1u, 2u, 3u}) {
    EXPECT_FALSE(runs_skinny_coop(projection(rows), SkinnyMode::kAuto, kDefault)) << rows;
  }
  for (uint32_t rows : {4u, 8u, 12u, 16u}) {
    EXPECT_TRUE(runs_skinny_coop(projection(rows), SkinnyMode::kAuto, kDefault)) << rows;
  }
  EXPECT_FALSE(runs_skinny_coop(projection(17), SkinnyMode::kAuto, kDefault));
  EXPECT_FALSE(runs_skinny_coop(projection(64), SkinnyMode::kAuto, kDefault));
  // The fallback build t4s8 starts at 8 rows, where it beat matvec_t.
  const SkinnyCoopBuild* t4s8 = &kSkinnyCoopFallbackBuild;
  EXPECT_FALSE(runs_skinny_coop(projection(4), SkinnyMode::kAuto, t4s8));
  EXPECT_TRUE(runs_skinny_coop(projection(8), SkinnyMode::kAuto, t4s8));
}

TEST(VulkanSkinnySelection, WhereMatvecTSplitsKTensorCoresRunNineToSixteenRows) {
  for (uint32_t rows : {1u, 2u, 4u, 8u}) {
    EXPECT_FALSE(runs_skinny_coop(projection(rows), SkinnyMode::kAuto, kDefault, true)) << rows;
  }
  for (uint32_t rows : {9u, 12u, 16u}) {
    EXPECT_TRUE(runs_skinny_coop(projection(rows), SkinnyMode::kAuto, kDefault, true)) << rows;
  }
  EXPECT_FALSE(runs_skinny_coop(projection(17), SkinnyMode::kAuto, kDefault, true));
  // The switch still forces either shader.
  EXPECT_TRUE(runs_skinny_coop(projection(4), SkinnyMode::kCoop, kDefault, true));
  EXPECT_FALSE(runs_skinny_coop(projection(12), SkinnyMode::kMatvec, kDefault, true));
}

TEST(VulkanSkinnySelection, TheSwitchForcesEitherShader) {
  // coop: a single row too; matvec: never.
  EXPECT_TRUE(runs_skinny_coop(projection(1), SkinnyMode::kCoop, kDefault));
  EXPECT_TRUE(runs_skinny_coop(projection(16), SkinnyMode::kCoop, kDefault));
  EXPECT_FALSE(runs_skinny_coop(projection(17), SkinnyMode::kCoop, kDefault));
  for (uint32_t rows : {1u, 4u, 8u, 16u}) {
    EXPECT_FALSE(runs_skinny_coop(projection(rows), SkinnyMode::kMatvec, kDefault)) << rows;
  }
}

TEST(VulkanSkinnySelection, WithoutTheVariantMatvecTRunsEverything) {
  for (SkinnyMode mode : {SkinnyMode::kAuto, SkinnyMode::kCoop}) {
    EXPECT_FALSE(runs_skinny_coop(projection(8), mode, nullptr));
  }
}

TEST(VulkanSkinnySelection, ShapesOutsideTheTilesStayOnMatvecT) {
  const auto runs = [](SkinnyShape shape) {
    return runs_skinny_coop(shape, SkinnyMode::kAuto, kDefault);
  };
  EXPECT_TRUE(runs({8, 200, 272, kMatmulTransposeB, 0}));   // N and K off 64: fine
  EXPECT_FALSE(runs({8, 200, 264, kMatmulTransposeB, 0}));  // K off the 16-wide step
  EXPECT_FALSE(runs({8, 8, 256, kMatmulTransposeB, 0}));    // fewer than 16 columns
  EXPECT_FALSE(runs({8, 200, 0, kMatmulTransposeB, 0}));
  // Weights past 32-bit indexing.
  EXPECT_FALSE(runs({8, 1u << 20, 1u << 13, kMatmulTransposeB, 0}));
  // Every fusion of matvec_t is covered.
  for (uint32_t flags : {kMatmulBias, kMatmulResidual, kMatmulNormRows | kMatmulResidual,
                         kMatmulGated | kMatmulNormRows}) {
    EXPECT_TRUE(runs(projection(8, flags))) << flags;
  }
  // Rope: whole tiles of 16 pairs inside a head.
  EXPECT_TRUE(runs({8, 2048, 2048, kMatmulTransposeB | kMatmulRope, 128}));
  EXPECT_TRUE(runs({8, 96, 272, kMatmulTransposeB | kMatmulRope | kMatmulPosPerRow, 32}));
  EXPECT_FALSE(runs({8, 48, 64, kMatmulTransposeB | kMatmulRope, 16}));  // 8 pairs per head
  EXPECT_FALSE(runs({8, 2048, 2048, kMatmulTransposeB | kMatmulRope, 0}));
}

TEST(VulkanSkinnySelection, OneWorkgroupPerTileOfColumns) {
  EXPECT_EQ(skinny_coop_groups(projection(8)), 128u);
  EXPECT_EQ(skinny_coop_groups({8, 200, 272, kMatmulTransposeB, 0}), 13u);  // a last partial tile
  EXPECT_EQ(skinny_coop_groups({8, 2048, 2048, kMatmulTransposeB | kMatmulRope, 128}), 64u);
}

// How the plugin loaded with `variable`=`value` in its environment (read
// when it loads); unloaded again before this returns.
vulkan_testing::LoadResult load_with(const char* variable, const char* value) {
  const testing::EnvGuard env(variable, value);
  PluginRegistry registry;
  vulkan_testing::LoadResult result = vulkan_testing::load_vulkan(registry);
  result.plugin.reset();
  return result;
}

// The plugin reads the switch when it loads: an unknown value is an error
// that names the variable; coop and matvec load, and wherever the engine
// has no tensor cores nothing runs on skinny_coop.
TEST(VulkanSkinnySelection, ThePluginRejectsAnUnknownSwitchValue) {
  const vulkan_testing::LoadResult load = load_with("RTSCOPE_VULKAN_SKINNY", "tensor");
  if (!load.skip_reason.empty()) GTEST_SKIP() << load.skip_reason;
  EXPECT_NE(load.failure.find("RTSCOPE_VULKAN_SKINNY='tensor'"), std::string::npos) << load.failure;
  EXPECT_NE(load.failure.find("coop, matvec"), std::string::npos) << load.failure;
  for (const char* value : {"coop", "matvec"}) {
    const vulkan_testing::LoadResult good = load_with("RTSCOPE_VULKAN_SKINNY", value);
    EXPECT_TRUE(good.failure.empty()) << value << ": " << good.failure;
  }
}

TEST(VulkanSkinnySelection, ThePluginRejectsAnUnknownBuild) {
  const vulkan_testing::LoadResult load = load_with("RTSCOPE_VULKAN_SKINNY_COOP", "staged");
  if (!load.skip_reason.empty()) GTEST_SKIP() << load.skip_reason;
  EXPECT_NE(load.failure.find("RTSCOPE_VULKAN_SKINNY_COOP='staged'"), std::string::npos)
      << load.failure;
  EXPECT_NE(load.failure.find("staged-t2s8"), std::string::npos) << load.failure;
}

TEST(VulkanSkinnySelection, ThePluginRejectsSplitSizesItHasNoPathFor) {
  const struct {
    const char* variable;
    const char* value;
    const char* valid;
  } cases[] = {{"RTSCOPE_VULKAN_MATVEC_SPLIT", "3", "2, 4, 8, 16, 0 (off)"},
               {"RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS", "16", "2, 4, 8"},
               {"RTSCOPE_VULKAN_MATVEC_TEAM_SLOTS", "3", "1, 2, 4, 8, 16"},
               {"RTSCOPE_VULKAN_MATVEC_FEW_ROW_TEAM_SLOTS", "32", "for up to 4 rows"},
               {"RTSCOPE_VULKAN_MATVEC_WORKGROUP", "96", "64, 128, 256 or 512"}};
  for (const auto& c : cases) {
    const vulkan_testing::LoadResult load = load_with(c.variable, c.value);
    if (!load.skip_reason.empty()) GTEST_SKIP() << load.skip_reason;
    const std::string named = std::string(c.variable) + "='" + c.value + "'";
    EXPECT_NE(load.failure.find(named), std::string::npos) << load.failure;
    EXPECT_NE(load.failure.find(c.valid), std::string::npos) << load.failure;
  }
  const vulkan_testing::LoadResult off = load_with("RTSCOPE_VULKAN_MATVEC_SPLIT", "off");
  EXPECT_TRUE(off.failure.empty()) << off.failure;
}

}  // namespace
}  // namespace rtscope::vulkan
