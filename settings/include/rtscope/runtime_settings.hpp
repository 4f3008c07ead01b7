// RuntimeSettings: the runtime strategy of a module, swappable at run time
// without recompiling (see runtime_config in host/include/rtscope/scopes.hpp).
//
//   RuntimeSettings s;                       // lazy, capture disabled, no cache
//   s = s.merge({{"graph_capture", "whole_graph"}});
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rtscope {

class RuntimeCache;

enum class KernelSpecialization { lazy, eager, none };
enum class GraphCapture { disabled, whole_graph };

std::string_view to_string(KernelSpecialization value);
std::string_view to_string(GraphCapture value);
// Throw InputError naming the setting and listing the valid names.
KernelSpecialization kernel_specialization_from_string(std::string_view name);
GraphCapture graph_capture_from_string(std::string_view name);

// Where a module's runtime cache comes from.
struct NoCache {
  bool operator==(const NoCache&) const = default;
};
using CacheSetting = std::variant<NoCache, std::filesystem::path, std::shared_ptr<RuntimeCache>>;

struct RuntimeSettings;

// Parsed overrides: the fields to change, checked once and applied to any
// number of settings (scopes apply one patch to every module).
struct SettingsPatch {
  std::optional<KernelSpecialization> kernel_specialization;
  std::optional<GraphCapture> graph_capture;
  std::optional<CacheSetting> runtime_cache;

  // Throws InputError for an unknown key or bad value, naming it and
  // listing the valid ones.
  static SettingsPatch parse(const std::map<std::string, std::string>& overrides);
  RuntimeSettings apply(const RuntimeSettings& base) const;
};

struct RuntimeSettings {
  KernelSpecialization kernel_specialization = KernelSpecialization::lazy;
  GraphCapture graph_capture = GraphCapture::disabled;
  // A shared cache compares by identity.
  CacheSetting runtime_cache = NoCache{};

  // Valid override keys.
  static std::vector<std::string> keys();

  // Copy with `overrides` applied (key -> value as strings). An unknown key
  // or a bad value throws InputError naming it and listing the valid ones.
  // `runtime_cache`: "none"/"" for no cache, anything else is a path.
  RuntimeSettings merge(const std::map<std::string, std::string>& overrides) const;

  // key -> value as strings (for reports).
  std::map<std::string, std::string> to_map() const;

  bool operator==(const RuntimeSettings&) const = default;
};

}  // namespace rtscope
