#include "kernels/skinny_product.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string>

#include "shader_interface.hpp"
#include "whole_number.hpp"

namespace rtscope::vulkan {

std::optional<SkinnyMode> parse_skinny_mode(const char* value) {
  if (value == nullptr || *value == '\0') return SkinnyMode::kAuto;
  std::string text(value);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "coop") return SkinnyMode::kCoop;
  if (text == "matvec") return SkinnyMode::kMatvec;
  return std::nullopt;
}

namespace {

// `value` as one of `counts`; nullptr or "" gives `fallback`.
std::optional<uint32_t> parse_count(const char* value, uint32_t fallback,
                                    std::initializer_list<uint32_t> counts) {
  if (value == nullptr || *value == '\0') return fallback;
  for (const uint32_t count : counts) {
    if (value == std::to_string(count)) return count;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint32_t> parse_matvec_split(const char* value, uint32_t fallback) {
  if (value != nullptr && std::string_view(value) == "off") return 0;
  return parse_count(value, fallback, {0, 2, 4, 8, 16});
}

std::optional<uint32_t> parse_matvec_block_rows(const char* value, uint32_t fallback) {
  return parse_count(value, fallback, {2, 4, 8});
}

std::optional<uint32_t> parse_matvec_team_slots(const char* value, uint32_t fallback) {
  if (value != nullptr && std::string_view(value) == "off") return 0;
  return parse_count(value, fallback, {0, 1, 2, 4, 8, 16});
}

std::optional<uint32_t> parse_matvec_groups(const char* value, uint32_t fallback) {
  if (value == nullptr || *value == '\0') return fallback;
  if (std::string_view(value) == "off") return 0;
  const std::optional<uint64_t> count = parse_whole_number(value, 0, 65535);
  return count ? std::optional<uint32_t>(static_cast<uint32_t>(*count)) : std::nullopt;
}

std::optional<uint32_t> parse_matvec_workgroup(const char* value) {
  return parse_count(value, 0, {64, 128, 256, 512});
}

uint32_t matvec_shared_bytes(uint32_t invocations, uint32_t weight_rows) {
  // MAX_SUBGROUPS = WG / 8 subgroups, each with the sums of its weight
  // rows (at least 2: WEIGHT_ROWS) x 8 padded rows and 8 squares; the
  // argmax's keys for its rows and pages. Without a split, one float each.
  const uint32_t subgroups = invocations / 8;
  const uint32_t split = weight_rows == 0 ? 2 : subgroups * (std::max(weight_rows, 2u) * 8 + 8);
  return (split + kMatvecArgmaxMaxRows * kMatvecArgmaxPages) * static_cast<uint32_t>(sizeof(float));
}

std::string_view skinny_mode_name(SkinnyMode mode) {
  switch (mode) {
    case SkinnyMode::kAuto:
      return "auto";
    case SkinnyMode::kCoop:
      return "coop";
    case SkinnyMode::kMatvec:
      return "matvec";
  }
  return "auto";
}

const SkinnyCoopBuild* find_skinny_coop_build(const char* value) {
  if (value == nullptr) return nullptr;
  for (const SkinnyCoopBuild& build : kSkinnyCoopBuilds) {
    if (build.name == value) return &build;
  }
  return nullptr;
}

std::string skinny_coop_build_names() {
  std::string names;
  for (const SkinnyCoopBuild& build : kSkinnyCoopBuilds) {
    if (!names.empty()) names += ", ";
    names += build.name;
  }
  return names;
}

bool fits_skinny_coop_build(const SkinnyCoopBuild& build, uint32_t shared_bytes,
                            uint32_t invocations) {
  return build.shared_bytes <= shared_bytes && build.invocations <= invocations;
}

const SkinnyCoopBuild& default_skinny_coop_build(uint32_t shared_bytes, uint32_t invocations) {
  for (const SkinnyCoopBuild& build : kSkinnyCoopBuilds) {
    if (fits_skinny_coop_build(build, shared_bytes, invocations)) return build;
  }
  return kSkinnyCoopFallbackBuild;
}

bool adds_skinny_coop_variant(bool device_coop_f16, bool f16_variants, SkinnyMode mode) {
  return device_coop_f16 && f16_variants && mode != SkinnyMode::kMatvec;
}

bool runs_skinny_coop(const SkinnyShape& shape, SkinnyMode mode, const SkinnyCoopBuild* build,
                      bool matvec_split) {
  if (build == nullptr || mode == SkinnyMode::kMatvec) return false;
  const uint32_t auto_min_rows = matvec_split ? kSkinnyCoopMinRowsAfterSplit : build->auto_min_rows;
  const uint32_t min_rows = mode == SkinnyMode::kCoop ? 1 : auto_min_rows;
  if (shape.m < min_rows || shape.m > kSkinnyCoopMaxRows) return false;
  // Whole 16-wide K steps: the weight tiles are read without bounds checks.
  if (shape.k == 0 || shape.k % kSkinnyCoopTile != 0) return false;
  // The last tile of columns is moved left to end at N.
  if (shape.n < kSkinnyCoopTile) return false;
  // The shader indexes the weights (and a gate's second weight) in 32 bits.
  if (uint64_t{shape.n} * shape.k > UINT32_MAX) return false;
  if ((shape.flags & kMatmulRope) != 0) {
    // Tiles of 16 pairs (i, i + head_dim / 2) within one head.
    if (shape.head_dim == 0 || (shape.head_dim / 2) % kSkinnyCoopTile != 0 ||
        shape.n % shape.head_dim != 0) {
      return false;
    }
  }
  return true;
}

uint64_t skinny_coop_groups(const SkinnyShape& shape) {
  if ((shape.flags & kMatmulRope) != 0) return shape.n / 2 / kSkinnyCoopTile;
  return (uint64_t{shape.n} + kSkinnyCoopTile - 1) / kSkinnyCoopTile;
}

}  // namespace rtscope::vulkan
