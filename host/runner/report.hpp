// What a runner invocation measured, and its two renderings: a table for
// people (stdout) and JSON for tools (`--json`, schema below).
//
// JSON, schema_version 1 (consumers ignore unknown keys):
//   { "schema_version": 1,
//     "context": { "host", "rtscope_version", "timestamp_utc", "config",
//                  "command_line", "abi": {"major", "minor"},
//                  "plugins": [{"id", "version", "path", "abi_minor",
//                    "devices": [{"name", "kind", "fingerprint", "memory_bytes"}]}] },
//     "models": { "<run name>": {
//         "model", "workload", "throughput_unit", "batch",
//         "settings": { RuntimeSettings::to_map() },
//         "phases_ms": {"plugin_load", "model_build", "weights_load", "checkpoint_map",
//                       "checkpoint_convert", "upload", "graph_beside_plugin_load",
//                       "checkpoint_prefault",
//                       "pipelines", "first_inference",
//                       "start_to_first_token"},
//         "plugin_phases_ms": {"<plugin>.<phase>": ms, ...},
//         "latency_ms": {"min", "mean", "p50", "p90", "p95", "p99", "max", "stddev",
//                        plus any other configured percentile "pNN"},
//         "throughput_per_s", "iterations", "warmup", "measured_s",
//         "contexts_created",
//         "partitions": [{"plugin", "nodes", "inputs", "outputs",
//                         "staged_bytes", "staged_bytes_per_iteration"}] } } }
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "statistics.hpp"

namespace rtscope::runner {

struct DeviceReport {
  std::string name;
  std::string kind;  // cpu | gpu | virtual
  std::string fingerprint;
  uint64_t memory_bytes = 0;
};

struct PluginReport {
  std::string id;
  std::string version;
  std::string path;
  uint32_t abi_minor = 0;  // negotiated
  std::vector<DeviceReport> devices;
};

struct ReportContext {
  std::string host;
  std::string rtscope_version;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::string timestamp_utc;  // ISO 8601
  std::string config;
  std::string command_line;
  std::vector<PluginReport> plugins;
};

struct PartitionReport {
  std::string plugin;
  std::size_t nodes = 0;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  // Bytes the partition's module copied between host memory and its device
  // during the run entry (warm-up included): the host's copies of tensors
  // from another device plus the plugin's `staged_bytes` counter.
  uint64_t staged_bytes = 0;
  double staged_bytes_per_iteration = 0;  // over warm-up and measured iterations
  // How much each of the plugin's counters grew over the measured
  // iterations (warm-up excluded), e.g. gpu_time_ns, dispatches; a
  // counter that is a level rather than a count shows its change. Untimed
  // work inside the measured span (a stream's prefill of a new prompt) is
  // left out.
  std::map<std::string, uint64_t> measured_counters;
};

// The shared runtime cache's activity during one run entry.
struct CacheReport {
  bool enabled = false;
  std::string path;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t rejected = 0;
  uint64_t evicted = 0;
  uint64_t bytes = 0;  // held after the entry
  double load_ms = 0;  // reading the file (charged to the first entry)
  double save_ms = 0;  // writing it (charged to the last entry)
  // The remote tier (runtime.cache_remote), when configured: its URL,
  // entries fetched from it, fetched values refused by validation, entries
  // it stored new at the save (charged to the last entry), and whether it
  // failed (the run then went on with the local tier).
  std::string remote{};
  uint64_t remote_fetched = 0;
  uint64_t remote_rejected = 0;
  uint64_t remote_pushed = 0;
  bool remote_failed = false;
};

// What building a model cost, the same for every run entry of the model.
struct ModelBuildTimes {
  // Plugin load: the load time of the plugins in the model's backends.
  // Model build: graph construction, partitioning and engine builds.
  // Weights load: the part of model build spent reading a checkpoint
  // (`weights`: config, mapping, checks, conversions); 0 without one.
  double plugin_load_ms = 0;
  double model_build_ms = 0;
  double weights_load_ms = 0;
  // The start of a model from a checkpoint (B14), finer: mapping the
  // safetensors files (checkpoint_map) and checking, wrapping or converting
  // their tensors (checkpoint_convert), both inside weights_load; building
  // the engines (upload: the plugins take the weights and copy them to
  // their device).
  double checkpoint_map_ms = 0;
  double checkpoint_convert_ms = 0;
  double upload_ms = 0;
  // The part of model_build that ran while the plugins loaded (reading the
  // first run's graph or checkpoint, on the main thread): counted in both
  // plugin_load and model_build, once in start_to_first_token.
  double graph_beside_plugin_load_ms = 0;
};

// One run entry of the config.
struct ModelReport : ModelBuildTimes {
  std::string name;             // the run's name (key in JSON)
  std::string model;            // the model it ran
  std::string workload;         // e.g. "stream prompt 16, tokens 64"
  std::string throughput_unit;  // "tokens" or "samples"
  // Items one iteration produces: the streams a decode step advances (one
  // token each), or a batch run's rows. Throughput is batch × iterations
  // over their summed latency; latency_ms is per iteration (per step).
  int64_t batch = 1;
  std::map<std::string, std::string> settings;
  // First inference: the first Model::run of this entry (context creation
  // included); pipelines: creating pipelines at the first context (from the
  // plugins' `pipeline_create_ns` counters, from the runtime cache when
  // warm), inside first_inference.
  double first_inference_ms = 0;
  // After the graph was read, until the plugins were loaded: paging in the
  // checkpoint's mapped weights for the upload. Beside plugin_load, in no
  // other phase.
  double checkpoint_prefault_ms = 0;
  double pipelines_ms = 0;
  // Where the plugins say their start-up went, "<plugin>.<phase>" -> ms:
  // finer phases inside plugin_load and upload (docs/runner.md, "Report").
  std::map<std::string, double> plugin_phases_ms;
  // From the process start to the end of this entry's first inference (the
  // prompt of a stream): everything above plus config parsing, cache load
  // and any models built before. 0 when not measured.
  double start_to_first_token_ms = 0;
  // Latency of one iteration: a decode step (stream) or a model run (batch).
  SampleStats latency_ms;
  // Every measured iteration's latency in run order; kept only with
  // --samples (empty otherwise, and then absent from the JSON).
  std::vector<double> samples_ms;
  // Items per second over the measured iterations' summed latency.
  double throughput_per_s = 0;
  int64_t iterations = 0;
  int64_t warmup = 0;
  double measured_s = 0;  // wall time of the measured loop
  // Execution contexts created while this entry ran (warm-up included).
  uint64_t contexts_created = 0;
  std::vector<PartitionReport> partitions;
  CacheReport cache;
};

struct Report {
  ReportContext context;
  std::vector<double> percentiles;  // the ones to show, in config order
  std::vector<ModelReport> models;
};

// Percentiles always computed (the JSON's fixed keys) plus the configured.
std::vector<double> percentiles_to_compute(const std::vector<double>& configured);

void print_table(const Report& report, std::FILE* out);
std::string to_json(const Report& report);
// Throws rtscope::Error naming the file when it cannot be written.
void write_json(const Report& report, const std::filesystem::path& file);

// Fails early (before a long run) when `file`'s folder does not exist.
void check_json_destination(const std::filesystem::path& file, std::string_view what);

}  // namespace rtscope::runner
