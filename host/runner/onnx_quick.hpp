// rtscope-run --onnx FILE: the config-free quick mode, the way
// `trtexec --onnx` is used. It writes the config a user would have
// written (one model importing FILE, one batch run) and parses it like any
// other, so every flag (--show-partitions, --trace, --json, --set) works.
// A decoder export whose past/present KV pairs the importer holds as
// in-place state (input_ids, position_ids, past_key_values.N.*) gets a
// stream run instead: a decode-step model (input_ids [batch, 1]) and a
// prompt model (input_ids [batch, 16]) sharing the caches, unless
// --shapes sizes input_ids (then one step of that size is the batch run).
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

// The token input of a decoder export, and the quick stream's prompt.
inline constexpr const char* kStreamTokens = "input_ids";
inline constexpr int64_t kStreamPrompt = 16;

// The YAML text of the quick-mode config (`decoder`: the stream run;
// `fuse` false: models import with `fuse: false`).
std::string onnx_quick_yaml(const std::filesystem::path& model,
                            const std::map<std::string, std::vector<int64_t>>& shapes,
                            const std::vector<std::string>& backends, int64_t batch,
                            bool decoder = false, bool fuse = true);

// The config for `--onnx model [--shapes ...] [--backends ...]`; the batch
// of the run is the first dim of the model's first input once shapes are
// applied (1 when it stays symbolic).
RunConfig onnx_quick_config(const std::filesystem::path& model, const std::string& shapes,
                            const std::string& backends,
                            const std::vector<ConfigOverride>& overrides, bool fuse = true);

}  // namespace rtscope::runner
