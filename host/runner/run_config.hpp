// The runner's config file: plugins, models, runtime settings, runs and
// report options (see configs/default.yaml and README.md).
//
// Every error thrown while reading a config is an InputError starting with
// "file:line:col: " and naming the key path (e.g. run.0.workload.kind);
// unknown keys are errors that list the valid ones.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config_overrides.hpp"

namespace rtscope::runner {

struct PluginConfig {
  std::string name;            // searched for by name, or
  std::filesystem::path path;  // an explicit library file
  bool optional = false;       // failing to load is a warning
  std::string where;           // "file:line:col: " of the entry
};

struct ModelConfig {
  std::string name;
  std::string builtin;                        // template name, or
  std::map<std::string, std::string> params;  // its parameters as written
  // builtin decoder only: a Hugging Face Llama checkpoint folder whose
  // config.json gives the sizes and whose safetensors give the weights.
  std::filesystem::path weights;
  std::filesystem::path graph;  // a graph YAML file, or
  std::filesystem::path onnx;   // an ONNX model file
  // onnx: concrete shapes of inputs by name (dim_params become sizes).
  std::map<std::string, std::vector<int64_t>> shapes;
  // onnx: past/present KV pairs held as in-place state (present output →
  // past input); pairs the importer detects need no entry.
  std::map<std::string, std::string> alias;
  // onnx: fuse exported decoders' decomposed blocks back into rtscope's
  // ops (OnnxImportOptions::fuse); false imports every node as mapped.
  bool fuse = true;
  std::vector<std::string> backends;  // plugin ids, priority order
  bool fallback_data_dependent_ops = false;
  bool require_full_compilation = false;
  // RuntimeSettings overrides of this model, on top of the top-level ones.
  std::map<std::string, std::string> runtime;
  std::string where;  // "file:line:col: " of the model's entry
};

struct WorkloadConfig {
  enum class Kind { stream, batch };
  Kind kind = Kind::stream;
  int64_t prompt = 16;  // stream: prompt length (prefill, untimed)
  int64_t tokens = 64;  // stream: decode steps per stream
  // batch: rows per model run. stream: streams decoded per step (the
  // model's token rows; 0 = as many as the model has).
  int64_t batch = 1;
  uint64_t seed = 1;  // seed of the random inputs
  // stream: a model (key of `models`) that runs the prefill and shares its
  // state buffers (the KV caches) with the run's model; empty = the run's
  // model prefills too.
  std::string prefill;
};

struct RunEntry {
  std::string name;   // key in the report; defaults to the model name
  std::string model;  // a key of `models`
  WorkloadConfig workload;
  int64_t warmup = 5;
  int64_t iterations = 50;               // lower bound
  std::chrono::nanoseconds duration{0};  // lower bound
  std::string where;
};

struct ReportConfig {
  std::optional<std::filesystem::path> json;
  std::optional<std::filesystem::path> trace;  // Chrome trace-event JSON of the run
  std::vector<double> percentiles = {50, 90, 95, 99};
};

struct RunConfig {
  std::filesystem::path file;
  bool has_plugins_list = false;  // false: backends are loaded by name
  std::vector<PluginConfig> plugins;
  std::vector<ModelConfig> models;  // in file order
  // RuntimeSettings overrides for every model (keys of
  // RuntimeSettings::merge: kernel_specialization, graph_capture,
  // runtime_cache).
  std::map<std::string, std::string> runtime;
  // runtime.cache_remote: the shared remote tier behind runtime.cache
  // ("redis://HOST:PORT/NAMESPACE"); empty for none.
  std::string cache_remote;
  std::vector<RunEntry> runs;
  ReportConfig report;

  const ModelConfig* find_model(const std::string& name) const;
};

// Reads `file`, applies `overrides` to its tree, then parses and validates.
RunConfig load_run_config(const std::filesystem::path& file,
                          const std::vector<ConfigOverride>& overrides = {});

// Parses YAML text; `file_name` is used in messages and to resolve relative
// paths (see resolve_config_path).
RunConfig parse_run_config(const std::string& text, const std::filesystem::path& file_name,
                           const std::vector<ConfigOverride>& overrides = {});

// The config with every default filled in, for --dump-config. Parsing the
// result gives the same RunConfig.
YAML::Node to_yaml(const RunConfig& config);

// A relative path in a config is taken relative to the working directory
// when it exists there, else relative to the config file's folder.
std::filesystem::path resolve_config_path(const std::filesystem::path& path,
                                          const std::filesystem::path& config_file);

std::string_view to_string(WorkloadConfig::Kind kind);

}  // namespace rtscope::runner
