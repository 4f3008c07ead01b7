#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "atomic_file.hpp"
#include "json_text.hpp"
#include "rtscope/error.hpp"

namespace rtscope::runner {
namespace {

constexpr double kSchemaPercentiles[] = {50, 90, 95, 99};

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string format_memory(uint64_t bytes) {
  return bytes == 0 ? "memory unknown" : format_bytes(bytes);
}

std::string format_ms(double ms) { return fmt::format("{:.3f}", ms); }

// A table with one column per run: rows are (label, one cell per run).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(std::string label, std::vector<std::string> cells) {
    rows_.push_back({std::move(label), std::move(cells)});
  }
  void print(std::FILE* out) const {
    std::size_t label_width = 0;
    std::vector<std::size_t> widths(header_.size());
    for (std::size_t c = 0; c < header_.size(); ++c) widths[c] = header_[c].size();
    for (const auto& [label, cells] : rows_) {
      label_width = std::max(label_width, label.size());
      for (std::size_t c = 0; c < cells.size() && c < widths.size(); ++c) {
        widths[c] = std::max(widths[c], cells[c].size());
      }
    }
    const auto line = [&](const std::string& label, const std::vector<std::string>& cells) {
      std::string text = fmt::format("{:<{}}", label, label_width);
      for (std::size_t c = 0; c < widths.size(); ++c) {
        text += fmt::format("  {:>{}}", c < cells.size() ? cells[c] : "", widths[c]);
      }
      fmt::print(out, "{}\n", text);
    };
    line("", header_);
    for (const auto& [label, cells] : rows_) line(label, cells);
  }

 private:
  std::vector<std::string> header_;
  std::vector<std::pair<std::string, std::vector<std::string>>> rows_;
};

template <typename Fn>
std::vector<std::string> cells(const Report& report, Fn cell) {
  std::vector<std::string> result;
  for (const ModelReport& model : report.models) result.push_back(cell(model));
  return result;
}

std::string describe_partitions(const ModelReport& model) {
  std::string text;
  for (const PartitionReport& partition : model.partitions) {
    text +=
        fmt::format("{}{} ({} nodes)", text.empty() ? "" : ", ", partition.plugin, partition.nodes);
  }
  return text;
}

// Per module that reports device timestamps: "vulkan 0.912 ms" (device
// time per measured iteration).
std::string describe_device_time(const ModelReport& model) {
  std::string text;
  for (const PartitionReport& partition : model.partitions) {
    const auto found = partition.measured_counters.find("gpu_time_ns");
    if (found == partition.measured_counters.end() || model.iterations <= 0) continue;
    const double ms =
        static_cast<double>(found->second) / 1e6 / static_cast<double>(model.iterations);
    text += fmt::format("{}{} {} ms", text.empty() ? "" : ", ", partition.plugin, format_ms(ms));
  }
  return text.empty() ? "-" : text;
}

// Per module: "vulkan 1.2 KiB" (bytes between host and device per iteration).
std::string describe_staging(const ModelReport& model) {
  std::string text;
  for (const PartitionReport& partition : model.partitions) {
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", partition.plugin,
                        format_bytes(static_cast<uint64_t>(partition.staged_bytes_per_iteration)));
  }
  return text;
}

Json context_json(const ReportContext& context) {
  Json plugins = Json::array();
  for (const PluginReport& plugin : context.plugins) {
    Json devices = Json::array();
    for (const DeviceReport& device : plugin.devices) {
      devices.push_back({{"name", device.name},
                         {"kind", device.kind},
                         {"fingerprint", device.fingerprint},
                         {"memory_bytes", device.memory_bytes}});
    }
    plugins.push_back({{"id", plugin.id},
                       {"version", plugin.version},
                       {"path", plugin.path},
                       {"abi_minor", plugin.abi_minor},
                       {"devices", std::move(devices)}});
  }
  return {{"host", context.host},
          {"rtscope_version", context.rtscope_version},
          {"timestamp_utc", context.timestamp_utc},
          {"config", context.config},
          {"command_line", context.command_line},
          {"abi", {{"major", context.abi_major}, {"minor", context.abi_minor}}},
          {"plugins", std::move(plugins)}};
}

Json latency_json(const SampleStats& latency) {
  Json json = Json::object();
  json["min"] = latency.min;
  json["mean"] = latency.mean;
  for (const auto& [p, value] : latency.percentiles) json[percentile_name(p)] = value;
  json["max"] = latency.max;
  json["stddev"] = latency.stddev;
  return json;
}

Json partition_json(const PartitionReport& partition) {
  Json counters = Json::object();
  for (const auto& [name, value] : partition.measured_counters) counters[name] = value;
  return {{"plugin", partition.plugin},
          {"nodes", static_cast<uint64_t>(partition.nodes)},
          {"inputs", partition.inputs},
          {"outputs", partition.outputs},
          {"staged_bytes", partition.staged_bytes},
          {"staged_bytes_per_iteration", partition.staged_bytes_per_iteration},
          {"measured_counters", std::move(counters)}};
}

Json model_json(const ModelReport& model) {
  Json json = Json::object();
  json["model"] = model.model;
  json["workload"] = model.workload;
  json["throughput_unit"] = model.throughput_unit;
  json["batch"] = model.batch;
  Json settings = Json::object();
  for (const auto& [key, value] : model.settings) settings[key] = value;
  json["settings"] = std::move(settings);
  json["phases_ms"] = {{"plugin_load", model.plugin_load_ms},
                       {"model_build", model.model_build_ms},
                       {"weights_load", model.weights_load_ms},
                       {"checkpoint_map", model.checkpoint_map_ms},
                       {"checkpoint_convert", model.checkpoint_convert_ms},
                       {"upload", model.upload_ms},
                       {"graph_beside_plugin_load", model.graph_beside_plugin_load_ms},
                       {"checkpoint_prefault", model.checkpoint_prefault_ms},
                       {"pipelines", model.pipelines_ms},
                       {"first_inference", model.first_inference_ms},
                       {"start_to_first_token", model.start_to_first_token_ms}};
  Json plugin_phases = Json::object();
  for (const auto& [phase, ms] : model.plugin_phases_ms) plugin_phases[phase] = ms;
  json["plugin_phases_ms"] = std::move(plugin_phases);
  json["latency_ms"] = latency_json(model.latency_ms);
  if (!model.samples_ms.empty()) json["samples_ms"] = model.samples_ms;
  json["throughput_per_s"] = model.throughput_per_s;
  json["iterations"] = model.iterations;
  json["warmup"] = model.warmup;
  json["measured_s"] = model.measured_s;
  json["contexts_created"] = model.contexts_created;
  json["cache"] = {{"enabled", model.cache.enabled},   {"path", model.cache.path},
                   {"hits", model.cache.hits},         {"misses", model.cache.misses},
                   {"rejected", model.cache.rejected}, {"evicted", model.cache.evicted},
                   {"bytes", model.cache.bytes},       {"load_ms", model.cache.load_ms},
                   {"save_ms", model.cache.save_ms}};
  if (!model.cache.remote.empty()) {
    json["cache"]["remote"] = {{"url", model.cache.remote},
                               {"fetched", model.cache.remote_fetched},
                               {"rejected", model.cache.remote_rejected},
                               {"pushed", model.cache.remote_pushed},
                               {"failed", model.cache.remote_failed}};
  }
  Json partitions = Json::array();
  for (const PartitionReport& partition : model.partitions) {
    partitions.push_back(partition_json(partition));
  }
  json["partitions"] = std::move(partitions);
  return json;
}

}  // namespace

std::vector<double> percentiles_to_compute(const std::vector<double>& configured) {
  std::set<double> all(std::begin(kSchemaPercentiles), std::end(kSchemaPercentiles));
  all.insert(configured.begin(), configured.end());
  return {all.begin(), all.end()};
}

void print_table(const Report& report, std::FILE* out) {
  const ReportContext& context = report.context;
  fmt::print(out, "rtscope {} on {}, plugin ABI {}.{}, config {}\n", context.rtscope_version,
             context.host, context.abi_major, context.abi_minor, context.config);
  for (const PluginReport& plugin : context.plugins) {
    fmt::print(out, "plugin {} {} (ABI {}.{}) {}\n", plugin.id, plugin.version, context.abi_major,
               plugin.abi_minor, plugin.path);
    for (std::size_t i = 0; i < plugin.devices.size(); ++i) {
      const DeviceReport& device = plugin.devices[i];
      fmt::print(out, "  device {}: {} [{}] {}\n", i, device.name, device.kind,
                 format_memory(device.memory_bytes));
    }
  }
  fmt::print(out, "\n");

  Table table(cells(report, [](const ModelReport& m) { return m.name; }));
  table.row("model", cells(report, [](const ModelReport& m) { return m.model; }));
  table.row("workload", cells(report, [](const ModelReport& m) { return m.workload; }));
  table.row("partitions", cells(report, describe_partitions));
  std::set<std::string> setting_keys;
  for (const ModelReport& model : report.models) {
    for (const auto& [key, value] : model.settings) setting_keys.insert(key);
  }
  for (const std::string& key : setting_keys) {
    table.row(key, cells(report, [&](const ModelReport& m) {
                const auto found = m.settings.find(key);
                return found == m.settings.end() ? std::string() : found->second;
              }));
  }
  table.row("plugin load ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.plugin_load_ms); }));
  table.row("model build ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.model_build_ms); }));
  if (std::any_of(report.models.begin(), report.models.end(),
                  [](const ModelReport& m) { return m.weights_load_ms > 0; })) {
    table.row("  checkpoint map/convert ms", cells(report, [](const ModelReport& m) {
                return fmt::format("{}/{}", format_ms(m.checkpoint_map_ms),
                                   format_ms(m.checkpoint_convert_ms));
              }));
  }
  table.row("  upload (engine build) ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.upload_ms); }));
  table.row("first inference ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.first_inference_ms); }));
  if (std::any_of(report.models.begin(), report.models.end(),
                  [](const ModelReport& m) { return m.pipelines_ms > 0; })) {
    table.row("  pipelines ms",
              cells(report, [](const ModelReport& m) { return format_ms(m.pipelines_ms); }));
  }
  std::set<std::string> plugin_phases;
  for (const ModelReport& model : report.models) {
    for (const auto& [phase, ms] : model.plugin_phases_ms) plugin_phases.insert(phase);
  }
  for (const std::string& phase : plugin_phases) {
    table.row(fmt::format("  {} ms", phase), cells(report, [&](const ModelReport& m) {
                const auto found = m.plugin_phases_ms.find(phase);
                return found == m.plugin_phases_ms.end() ? std::string() : format_ms(found->second);
              }));
  }
  table.row("start to first token ms", cells(report, [](const ModelReport& m) {
              return format_ms(m.start_to_first_token_ms);
            }));
  table.row("iterations (+warm-up)", cells(report, [](const ModelReport& m) {
              return fmt::format("{} (+{})", m.iterations, m.warmup);
            }));
  table.row("latency min ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.latency_ms.min); }));
  table.row("latency mean ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.latency_ms.mean); }));
  for (double p : report.percentiles) {
    table.row(
        fmt::format("latency {} ms", percentile_name(p)), cells(report, [&](const ModelReport& m) {
          const auto found = m.latency_ms.percentiles.find(p);
          return found == m.latency_ms.percentiles.end() ? std::string() : format_ms(found->second);
        }));
  }
  table.row("latency max ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.latency_ms.max); }));
  table.row("latency stddev ms",
            cells(report, [](const ModelReport& m) { return format_ms(m.latency_ms.stddev); }));
  table.row("throughput", cells(report, [](const ModelReport& m) {
              return fmt::format("{:.1f} {}/s", m.throughput_per_s, m.throughput_unit);
            }));
  table.row("contexts created", cells(report, [](const ModelReport& m) {
              return fmt::format("{}", m.contexts_created);
            }));
  table.row("staged per iteration", cells(report, describe_staging));
  const bool any_device_time =
      std::any_of(report.models.begin(), report.models.end(), [](const ModelReport& m) {
        return std::any_of(m.partitions.begin(), m.partitions.end(), [](const PartitionReport& p) {
          return p.measured_counters.count("gpu_time_ns") > 0;
        });
      });
  if (any_device_time) table.row("device time per iteration", cells(report, describe_device_time));
  const bool any_cache = std::any_of(report.models.begin(), report.models.end(),
                                     [](const ModelReport& m) { return m.cache.enabled; });
  if (any_cache) {
    table.row("cache hits/misses/rejected", cells(report, [](const ModelReport& m) {
                return m.cache.enabled
                           ? fmt::format("{}/{}/{}", m.cache.hits, m.cache.misses, m.cache.rejected)
                           : std::string("off");
              }));
    table.row("cache load/save ms", cells(report, [](const ModelReport& m) {
                return m.cache.enabled ? fmt::format("{}/{}", format_ms(m.cache.load_ms),
                                                     format_ms(m.cache.save_ms))
                                       : std::string();
              }));
    table.row("cache bytes", cells(report, [](const ModelReport& m) {
                return m.cache.enabled ? format_bytes(m.cache.bytes) : std::string();
              }));
  }
  table.print(out);
}

std::string to_json(const Report& report) {
  Json models = Json::object();
  for (const ModelReport& model : report.models) models[model.name] = model_json(model);
  const Json doc = {{"schema_version", 1},
                    {"context", context_json(report.context)},
                    {"models", std::move(models)}};
  return json_text(doc);
}

void write_json(const Report& report, const std::filesystem::path& file) {
  write_file_atomically(file, to_json(report), "JSON report");
}

void check_json_destination(const std::filesystem::path& file, std::string_view what) {
  const std::filesystem::path folder = file.parent_path();
  std::error_code error;
  if (!folder.empty() && !std::filesystem::is_directory(folder, error)) {
    throw Error(fmt::format("{}: cannot write the {} there: folder {} does not exist",
                            file.string(), what, folder.string()));
  }
}

}  // namespace rtscope::runner
