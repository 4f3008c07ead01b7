#include "rtscope/runtime_settings.hpp"

#include <array>
#include <utility>

#include "rtscope/error.hpp"

namespace rtscope {
namespace {

constexpr std::array<std::pair<KernelSpecialization, std::string_view>, 3> kSpecializationNames{{
    {KernelSpecialization::lazy, "lazy"},
    {KernelSpecialization::eager, "eager"},
    {KernelSpecialization::none, "none"},
}};

constexpr std::array<std::pair<GraphCapture, std::string_view>, 2> kCaptureNames{{
    {GraphCapture::disabled, "disabled"},
    {GraphCapture::whole_graph, "whole_graph"},
}};

template <typename Enum, std::size_t N>
Enum parse_enum(const std::array<std::pair<Enum, std::string_view>, N>& names,
                std::string_view setting, std::string_view value) {
  std::string valid;
  for (const auto& [e, name] : names) {
    if (name == value) return e;
    valid += valid.empty() ? "" : ", ";
    valid += name;
  }
  throw InputError("invalid value '" + std::string(value) + "' for setting '" +
                   std::string(setting) + "'; valid values: " + valid);
}

template <typename Enum, std::size_t N>
std::string_view enum_name(const std::array<std::pair<Enum, std::string_view>, N>& names,
                           Enum value) {
  for (const auto& [e, name] : names) {
    if (e == value) return name;
  }
  return "?";
}

}  // namespace

std::string_view to_string(KernelSpecialization value) {
  return enum_name(kSpecializationNames, value);
}
std::string_view to_string(GraphCapture value) { return enum_name(kCaptureNames, value); }

KernelSpecialization kernel_specialization_from_string(std::string_view name) {
  return parse_enum(kSpecializationNames, "kernel_specialization", name);
}
GraphCapture graph_capture_from_string(std::string_view name) {
  return parse_enum(kCaptureNames, "graph_capture", name);
}

std::vector<std::string> RuntimeSettings::keys() {
  return {"kernel_specialization", "graph_capture", "runtime_cache"};
}

RuntimeSettings RuntimeSettings::merge(const std::map<std::string, std::string>& overrides) const {
  return SettingsPatch::parse(overrides).apply(*this);
}

RuntimeSettings SettingsPatch::apply(const RuntimeSettings& base) const {
  RuntimeSettings merged = base;
  if (kernel_specialization) merged.kernel_specialization = *kernel_specialization;
  if (graph_capture) merged.graph_capture = *graph_capture;
  if (runtime_cache) merged.runtime_cache = *runtime_cache;
  return merged;
}

SettingsPatch SettingsPatch::parse(const std::map<std::string, std::string>& overrides) {
  SettingsPatch patch;
  for (const auto& [key, value] : overrides) {
    if (key == "kernel_specialization") {
      patch.kernel_specialization = kernel_specialization_from_string(value);
    } else if (key == "graph_capture") {
      patch.graph_capture = graph_capture_from_string(value);
    } else if (key == "runtime_cache" || key == "cache") {
      if (value.empty() || value == "none" || value == "~" || value == "null") {
        patch.runtime_cache = NoCache{};
      } else {
        patch.runtime_cache = std::filesystem::path(value);
      }
    } else {
      std::string valid;
      for (const auto& k : RuntimeSettings::keys()) valid += (valid.empty() ? "" : ", ") + k;
      throw InputError("unknown runtime setting '" + key + "'; valid settings: " + valid);
    }
  }
  return patch;
}

std::map<std::string, std::string> RuntimeSettings::to_map() const {
  std::string cache = "none";
  if (const auto* path = std::get_if<std::filesystem::path>(&runtime_cache)) {
    cache = path->string();
  } else if (std::holds_alternative<std::shared_ptr<RuntimeCache>>(runtime_cache)) {
    cache = "shared";
  }
  return {{"kernel_specialization", std::string(to_string(kernel_specialization))},
          {"graph_capture", std::string(to_string(graph_capture))},
          {"runtime_cache", cache}};
}

}  // namespace rtscope
