// rtscope-run --onnx FILE: the config-free quick mode, the way
// `trtexec --onnx` is used. It writes the config a user would have
// written (one model importing FILE, one batch run) and parses it like any
// other, so every flag (--show-partitions, --trace, --json, --set) works.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config_overrides.hpp"
#include "run_config.hpp"

namespace rtscope::runner {

// "in:1x16,mask:1x16" → {in: [1, 16], mask: [1, 16]}; throws InputError
// naming the entry that is not NAME:DxDx...
std::map<std::string, std::vector<int64_t>> parse_shapes(const std::string& text);

// "vulkan,cpu" → {vulkan, cpu}.
std::vector<std::string> parse_backends(const std::string& text);

// The YAML text of the quick-mode config.
std::string onnx_quick_yaml(const std::filesystem::path& model,
                            const std::map<std::string, std::vector<int64_t>>& shapes,
                            const std::vector<std::string>& backends, int64_t batch);

// The config for `--onnx model [--shapes ...] [--backends ...]`; the batch
// of the run is the first dim of the model's first input once shapes are
// applied (1 when it stays symbolic).
RunConfig onnx_quick_config(const std::filesystem::path& model, const std::string& shapes,
                            const std::string& backends,
                            const std::vector<ConfigOverride>& overrides);

}  // namespace rtscope::runner
