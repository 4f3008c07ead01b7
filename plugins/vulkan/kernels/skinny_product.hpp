// Which shader runs a skinny `linear` (weight stored [N, K], few rows):
// matvec_t.comp on the shader cores, or skinny_coop.comp on tensor cores
// (VK_NV_cooperative_matrix). Both take MatvecPush and the same fusion
// flags; skinny_coop covers up to 16 rows (a batched decode step) and the
// shapes its tiles allow, and matvec_t runs everything else.
//
// RTSCOPE_VULKAN_SKINNY chooses between them on a device that has both:
//   unset   tensor cores from 9 rows on where matvec_t splits K across
//           its workgroups (DeviceCaps::matvec_split_rows, the default):
//           up to 8 rows that path is as fast or faster (H100, GPU
//           reference decoder step at 4 rows: 0.78 ms on matvec_t, 1.13 ms
//           on tensor cores; at 8 rows 1.11-1.17 against 1.14; at 16 rows
//           2.28 against 1.35). With one column per subgroup, from the
//           build's auto_min_rows on (4 for the default build; H200, step
//           at 2 rows: 0.73 ms on matvec_t, 1.07 ms on tensor cores; at 4
//           rows 1.25 vs 1.08 ms). A single row reads the weights at full
//           bandwidth on matvec_t either way;
//   coop    tensor cores for every row count they cover (1 included);
//   matvec  matvec_t always.
// RTSCOPE_VULKAN_MATVEC_SPLIT sets how many weight rows a workgroup of
// matvec_t's split-K path takes for batched rows (2, 4, 8 or 16; 0 or off:
// one column per subgroup at every row count), and
// RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS how many rows of A it takes per pass
// over them (2, 4 or 8), to compare them on one device.
// RTSCOPE_VULKAN_SKINNY_COOP picks which build of skinny_coop.comp runs
// them (kSkinnyCoopBuilds), to compare the builds on one device.
// Pure functions of their arguments, no Vulkan calls: unit-tested without
// a device.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rtscope::vulkan {

enum class SkinnyMode : uint8_t { kAuto, kCoop, kMatvec };

// RTSCOPE_VULKAN_MATVEC_SPLIT's value: nullptr or "" gives `fallback`,
// "0" or "off" 0, "2", "4", "8" or "16" that count; nullopt otherwise.
std::optional<uint32_t> parse_matvec_split(const char* value, uint32_t fallback);
// RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS's value: nullptr or "" gives
// `fallback`, "2", "4" or "8" that count; nullopt otherwise.
std::optional<uint32_t> parse_matvec_block_rows(const char* value, uint32_t fallback);
// RTSCOPE_VULKAN_MATVEC_TEAM_SLOTS's or RTSCOPE_VULKAN_MATVEC_FEW_ROW_TEAM_SLOTS's
// value (DeviceCaps::matvec_team_slots, matvec_few_row_team_slots): nullptr
// or "" gives `fallback`, "0" or "off" 0, "1", "2", "4", "8" or "16" that
// count; nullopt otherwise.
std::optional<uint32_t> parse_matvec_team_slots(const char* value, uint32_t fallback);

// RTSCOPE_VULKAN_MATVEC_GROUPS's value (DeviceCaps::matvec_groups): nullptr
// or "" gives `fallback`, "0" or "off" 0 (no cap), a decimal count up to
// 65535 that cap; nullopt otherwise.
std::optional<uint32_t> parse_matvec_groups(const char* value, uint32_t fallback);

// RTSCOPE_VULKAN_MATVEC_WORKGROUP's value (DeviceCaps::matvec_workgroup):
// nullptr or "" gives 0 (the device's row-shader workgroup), "64", "128",
// "256" or "512" that many invocations; nullopt otherwise.
std::optional<uint32_t> parse_matvec_workgroup(const char* value);

// The shared memory matvec_t declares for a workgroup of `invocations`
// with `weight_rows` weight rows per split-K workgroup (DeviceCaps::
// matvec_split_rows; 0: no split): its split-K sums and squares and the
// fused argmax's keys, in bytes. Mirrors split_sums, split_squares and
// argmax_best in matvec_t.comp.
uint32_t matvec_shared_bytes(uint32_t invocations, uint32_t weight_rows);

// RTSCOPE_VULKAN_SKINNY's value: nullptr or "" is kAuto, "coop" and
// "matvec" (any case) their modes; nullopt for anything else.
std::optional<SkinnyMode> parse_skinny_mode(const char* value);
// "auto", "coop" or "matvec".
std::string_view skinny_mode_name(SkinnyMode mode);

// skinny_coop.comp's limits (mirrored from the shader). The default
// build's workgroup (256 invocations, 32-wide subgroups, 19 KiB of shared
// memory) is within what supports_coop_matrix_f16 already requires for
// matmul_coop.comp; the plugin checks the others' needs when one is chosen.
inline constexpr uint32_t kSkinnyCoopMaxRows = 16;  // one 16-row tile of A
inline constexpr uint32_t kSkinnyCoopTile = 16;     // columns per workgroup; K step
// Fewest rows on tensor cores by default where matvec_t splits K.
inline constexpr uint32_t kSkinnyCoopMinRowsAfterSplit = 9;

// The builds of skinny_coop.comp (CMakeLists.txt): how many k-tiles a
// subgroup takes per step, how many subgroups split K, and whether the
// weight tiles are loaded straight from the weight buffer or staged
// through shared memory with 16-byte loads. Unless
// RTSCOPE_VULKAN_SKINNY_COOP names one, a device runs the first whose
// workgroup it can hold; t4s8 is within what every device with
// cooperative matrices offers (supports_coop_matrix_f16). On the H200 the
// GPU reference decoder's batched step at 8 rows took 1.16-1.17 ms on
// staged-t1s16, 1.21-1.22 on t2s16, 1.25-1.30 on staged-t2s8, 1.37-1.38 on
// staged-t4s4 and 1.46-1.49 on t4s8 (docs/benchmarks.md).
struct SkinnyCoopBuild {
  std::string_view name;    // RTSCOPE_VULKAN_SKINNY_COOP's value
  std::string_view shader;  // embedded shader variant
  // What its workgroup needs (mirrored from the shader's pool sizes).
  uint32_t shared_bytes = 0;
  uint32_t invocations = 0;
  // Fewest rows it runs without RTSCOPE_VULKAN_SKINNY=coop: from there on
  // it was faster than matvec_t on the H200.
  uint32_t auto_min_rows = 0;
};
inline constexpr std::array<SkinnyCoopBuild, 5> kSkinnyCoopBuilds = {{
    {"staged-t1s16", "skinny_coop_staged_t1s16_f16", 38912, 512, 4},
    {"t4s8", "skinny_coop_f16", 19456, 256, 8},
    {"t2s16", "skinny_coop_t2s16_f16", 34816, 512, 4},
    {"staged-t2s8", "skinny_coop_staged_t2s8_f16", 31744, 256, 4},
    {"staged-t4s4", "skinny_coop_staged_t4s4_f16", 28160, 128, 8},
}};
// t4s8: within what every device with cooperative matrices offers.
inline constexpr const SkinnyCoopBuild& kSkinnyCoopFallbackBuild = kSkinnyCoopBuilds[1];

// The build RTSCOPE_VULKAN_SKINNY_COOP names (an entry of
// kSkinnyCoopBuilds); nullptr for nullptr or a name that is not a build.
const SkinnyCoopBuild* find_skinny_coop_build(const char* value);
// Whether a device with these limits can run `build`'s workgroup.
bool fits_skinny_coop_build(const SkinnyCoopBuild& build, uint32_t shared_bytes,
                            uint32_t invocations);
// The first build a device with these limits can run (the last resort:
// t4s8, which supports_coop_matrix_f16 guarantees).
const SkinnyCoopBuild& default_skinny_coop_build(uint32_t shared_bytes, uint32_t invocations);
// "t4s8, t2s16, ...": the builds' names, for error messages.
std::string skinny_coop_build_names();

// A skinny product as the encoder sees it: the MatvecPush words.
struct SkinnyShape {
  uint32_t m = 0;
  uint32_t n = 0;
  uint32_t k = 0;
  uint32_t flags = 0;     // kMatmul* (shader_interface.hpp)
  uint32_t head_dim = 0;  // with kMatmulRope
};

// Whether an engine gives a linear whose weight it stores [N, K] the
// skinny_coop_f16 variant: the device has f16 cooperative matrices, the
// linear computes in f16 on the device (`f16_variants`: its shaders are
// the _f16 ones) and `mode` is not kMatvec.
bool adds_skinny_coop_variant(bool device_coop_f16, bool f16_variants, SkinnyMode mode);

// Whether skinny_coop.comp runs `shape`. `build`: the build whose pipeline
// the node has (an f16 linear on a device with cooperative matrices, and a
// mode other than kMatvec when the engine was built); nullptr: none.
// `matvec_split`: whether matvec_t runs batched rows on its split-K path
// on this device (DeviceCaps::matvec_split_rows != 0), which moves the
// default start to kSkinnyCoopMinRowsAfterSplit.
bool runs_skinny_coop(const SkinnyShape& shape, SkinnyMode mode, const SkinnyCoopBuild* build,
                      bool matvec_split = false);

// Workgroups skinny_coop.comp needs for `shape` (one per tile of 16
// columns, or of 16 rope pairs), before the device's group-count limit.
uint64_t skinny_coop_groups(const SkinnyShape& shape);

}  // namespace rtscope::vulkan
