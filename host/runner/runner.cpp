#include "runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <future>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string_view>

#include "device_list.hpp"
#include "progress.hpp"
#include "rtscope/error.hpp"
#include "rtscope/graph_yaml.hpp"
#include "rtscope/llama_checkpoint.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/templates.hpp"
#include "rtscope/trace.hpp"
#include "workload.hpp"

#ifndef RTSCOPE_VERSION
#define RTSCOPE_VERSION "unknown"
#endif

namespace rtscope::runner {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double to_ms(std::chrono::nanoseconds duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

// Re-throws `error` with `prefix` in front, keeping its type so callers can
// still tell config mistakes (InputError) from plugin failures.
[[noreturn]] void rethrow_with_prefix(const std::string& prefix) {
  try {
    throw;
  } catch (const InputError& e) {
    throw InputError(prefix + e.what());
  } catch (const PluginError& e) {
    throw PluginError(prefix + e.what());
  } catch (const std::exception& e) {
    throw Error(prefix + e.what());
  }
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

uint64_t contexts_created(const Model& model) {
  uint64_t total = 0;
  for (const Module* module : model.modules()) total += module->stats().contexts_created;
  return total;
}

// Bytes each module (in partition order) has copied between host memory and
// its device so far: the host's copies for tensors of another device plus
// the plugin's own staging (its `staged_bytes` counter, when it has one).
// The two parts are kept apart: the host's count only grows, the plugin's
// starts over with each new context (a settings change).
struct StagedBytes {
  uint64_t host = 0;
  uint64_t plugin = 0;
};

std::vector<StagedBytes> staged_bytes(const Model& model) {
  std::vector<StagedBytes> bytes;
  for (const Module* module : model.modules()) {
    const ModuleStats stats = module->stats();
    const auto plugin = stats.plugin_counters.find("staged_bytes");
    bytes.push_back(
        {stats.staged_bytes, plugin == stats.plugin_counters.end() ? 0 : plugin->second});
  }
  return bytes;
}

// The plugin counters of each module, in partition order.
std::vector<std::map<std::string, uint64_t>> plugin_counters(const Model& model) {
  std::vector<std::map<std::string, uint64_t>> counters;
  for (const Module* module : model.modules()) counters.push_back(module->stats().plugin_counters);
  return counters;
}

// Growth of each counter from `before` to `after`; a counter that fell (a
// level, or a new context starting over) counts from 0.
std::map<std::string, uint64_t> counters_between(const std::map<std::string, uint64_t>& before,
                                                 const std::map<std::string, uint64_t>& after) {
  std::map<std::string, uint64_t> grown;
  for (const auto& [name, value] : after) {
    const auto found = before.find(name);
    const uint64_t base = found != before.end() && found->second <= value ? found->second : 0;
    grown[name] = value - base;
  }
  return grown;
}

uint64_t staged_between(const StagedBytes& before, const StagedBytes& after) {
  const uint64_t plugin_before = before.plugin <= after.plugin ? before.plugin : 0;
  return (after.host - before.host) + (after.plugin - plugin_before);
}

// A model built once and shared by the run entries that name it.
struct BuiltModel {
  std::unique_ptr<Model> model;
  ModelBuildTimes times;
  std::map<std::string, std::string> settings;
  std::vector<PartitionReport> partitions;
};

// Time the plugins spent creating pipelines for the models' contexts so far
// (their `pipeline_create_ns` counters): from the runtime cache when warm.
double pipeline_create_ms(const Model& model, const Model* prefill) {
  uint64_t ns = 0;
  for (const Model* m : {&model, prefill}) {
    if (m == nullptr || (m == prefill && prefill == &model)) continue;
    for (const Module* module : m->modules()) {
      const ModuleStats stats = module->stats();
      const auto found = stats.plugin_counters.find("pipeline_create_ns");
      if (found != stats.plugin_counters.end()) ns += found->second;
    }
  }
  return static_cast<double>(ns) / 1e6;
}

// The plugins' own start-up phases, from their counters named
// "startup_<phase>_ns" (the Vulkan plugin: instance, device, upload fill
// and drain...), as "<plugin>.<phase>" in ms. A phase reported by several
// modules of one plugin (a plugin-wide one) counts once: the largest.
std::map<std::string, double> plugin_phases_ms(const Model& model, const Model* prefill) {
  constexpr std::string_view kPrefix = "startup_";
  constexpr std::string_view kSuffix = "_ns";
  std::map<std::string, double> phases;
  for (const Model* m : {&model, prefill}) {
    if (m == nullptr || (m == prefill && prefill == &model)) continue;
    for (const Module* module : m->modules()) {
      for (const auto& [name, value] : module->stats().plugin_counters) {
        if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix) ||
            name.size() <= kPrefix.size() + kSuffix.size()) {
          continue;
        }
        const std::string phase =
            module->plugin().id() + "." +
            name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
        double& ms = phases[phase];
        ms = std::max(ms, static_cast<double>(value) / 1e6);
      }
    }
  }
  return phases;
}

class Runner {
 public:
  Runner(const RunConfig& config, const RunnerOptions& options)
      : config_(config),
        options_(options),
        process_start_(options.process_start.value_or(Clock::now())) {}

  Report run() {
    load_plugins_while_preparing_graph();
    open_shared_cache();
    Report report;
    report.percentiles = config_.report.percentiles;
    for (const RunEntry& run : config_.runs) report.models.push_back(run_entry(run));
    if (shared_cache_ && !report.models.empty()) {
      // Releasing the models first destroys their execution contexts, which
      // finish their background work (lazily specialized kernels) into the
      // cache, so that the save holds it and the next run starts warm.
      models_.clear();
      const auto start = Clock::now();
      trace::Span span("cache", "save runtime cache");
      span.arg("path", shared_cache_path_.string());
      shared_cache_->try_save_final(shared_cache_path_);
      CacheReport& last = report.models.back().cache;
      last.save_ms = ms_since(start);
      const CacheCounters counters = shared_cache_->counters();
      last.bytes = counters.bytes;
      last.remote_pushed = counters.remote_pushed;
      last.remote_failed = last.remote_failed || counters.remote_faults > 0;
    }
    report.context = context();
    return report;
  }

  // Builds every model of the config (plugins and runtime settings as for
  // a run) and returns where each node went, without executing anything.
  std::vector<ModelPlacements> place() {
    load_configured_plugins();
    std::vector<ModelPlacements> result;
    for (const ModelConfig& config : config_.models) {
      result.push_back({config.name, model(config.name).model->placements()});
    }
    return result;
  }

 private:
  // The configured plugins load at once, each on its own thread (one
  // plugin's driver start-up overlaps the others'; RTSCOPE_RUN_SERIAL_START=1
  // loads them in turn), and report their errors in the config's order.
  void load_configured_plugins() {
    std::vector<PluginSpec> specs;
    for (const PluginConfig& plugin : config_.plugins) {
      PluginSpec spec;
      spec.name = plugin.name;
      if (!plugin.path.empty()) spec.path = resolve_config_path(plugin.path, config_.file);
      spec.optional = plugin.optional;
      specs.push_back(std::move(spec));
    }
    const bool concurrently = !serial_start();
    const auto start = Clock::now();
    const std::vector<PluginRegistry::LoadOutcome> outcomes =
        registry_.load_each(specs, concurrently);
    if (concurrently) {
      together_ms_ = ms_since(start);
      for (const auto& outcome : outcomes) {
        if (outcome.plugin) loaded_together_.insert(outcome.plugin->id());
      }
    }
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const PluginConfig& plugin = config_.plugins[i];
      try {
        if (outcomes[i].error) std::rethrow_exception(outcomes[i].error);
        // Loading an already loaded id returns it; keep the first time.
        load_ms_.emplace(outcomes[i].plugin->id(), outcomes[i].ms);
      } catch (const std::exception& e) {
        if (!plugin.optional) rethrow_with_prefix(plugin.where);
        warn(fmt::format("optional plugin {} was not loaded: {}", specs[i].label(), e.what()));
        failed_optional_.insert(plugin.name.empty() ? plugin.path.stem().string() : plugin.name);
      }
    }
  }

  static bool serial_start() {
    const char* serial = std::getenv("RTSCOPE_RUN_SERIAL_START");
    return serial != nullptr && std::string_view(serial) == "1";
  }

  // The plugins load (driver and device start-up, mostly) on a thread
  // while this one reads the first run's model: its checkpoint is mapped and
  // checked, or its graph built, by the time the plugins are up. A plugin
  // failure is reported before a graph's, as when the two ran in turn
  // (RTSCOPE_RUN_SERIAL_START=1).
  void load_plugins_while_preparing_graph() {
    if (config_.runs.empty() || serial_start()) {
      load_configured_plugins();
      return;
    }
    auto plugins = std::async(std::launch::async, [this] { load_configured_plugins(); });
    const std::string& name = config_.runs.front().model;
    try {
      if (const ModelConfig* config = config_.find_model(name)) {
        PreparedGraph prepared = prepare_graph(*config);
        prepared.beside_plugin_load = true;
        // What is left of the plugin load pages in the checkpoint, so the
        // upload does not fault on it (RTSCOPE_RUN_PREFAULT=0: not; =touch:
        // one read per page, as on kernels without MADV_POPULATE_READ).
        const char* prefault = std::getenv("RTSCOPE_RUN_PREFAULT");
        if (prefault == nullptr || std::string_view(prefault) != "0") {
          const auto start = Clock::now();
          const PrefaultMethod method =
              std::string_view(prefault == nullptr ? "" : prefault) == "touch"
                  ? PrefaultMethod::touch
                  : PrefaultMethod::automatic;
          prefault_weights(
              prepared.graph,
              [&plugins] {
                return plugins.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
              },
              method);
          prefault_ms_ = ms_since(start);
        }
        prepared_.emplace(name, std::move(prepared));
      }
    } catch (...) {
      const std::exception_ptr graph_error = std::current_exception();
      plugins.get();
      std::rethrow_exception(graph_error);
    }
    plugins.get();
  }

  // `runtime.cache: PATH` gives every model one shared cache, loaded once
  // here and saved once at the end; a model's own `runtime.cache` keeps the
  // implicit per-module cache of that path.
  void open_shared_cache() {
    const auto found = config_.runtime.find("runtime_cache");
    if (found == config_.runtime.end()) return;
    const RuntimeSettings parsed = RuntimeSettings{}.merge({*found});
    const auto* path = std::get_if<std::filesystem::path>(&parsed.runtime_cache);
    if (!path) return;
    RuntimeCache::Options options;
    options.warn = [](const std::string& message) { warn("runtime cache: " + message); };
    options.remote = config_.cache_remote;
    shared_cache_ = std::make_shared<RuntimeCache>(std::move(options));
    shared_cache_path_ = *path;
    // A first run creates the cache's folder (e.g. ~/.cache/rtscope); if that
    // fails, saving warns at the end and the run goes on without the file.
    std::error_code ignored;
    std::filesystem::create_directories(shared_cache_path_.parent_path(), ignored);
    const auto start = Clock::now();
    trace::Span span("cache", "load runtime cache");
    span.arg("path", shared_cache_path_.string());
    shared_cache_->load(shared_cache_path_);
    cache_load_ms_ = ms_since(start);
  }

  void load_plugin(const PluginSpec& spec) {
    const auto start = Clock::now();
    const std::shared_ptr<Plugin> plugin = registry_.load(spec);
    // Loading an already loaded id returns it; keep the first time.
    load_ms_.emplace(plugin->id(), ms_since(start));
  }

  // Backends of `model` that are loaded, loading any not yet loaded by name;
  // a backend whose optional plugin failed is dropped with a warning.
  std::vector<std::string> available_backends(const ModelConfig& model) {
    std::vector<std::string> backends;
    for (const std::string& id : model.backends) {
      if (!registry_.find(id)) {
        if (failed_optional_.count(id) || failed_optional_.count("librtscope_plugin_" + id)) {
          warn(fmt::format("model '{}': skipping backend '{}' (its optional plugin did not load)",
                           model.name, id));
          continue;
        }
        try {
          load_plugin(PluginSpec{id, {}, false});
        } catch (...) {
          rethrow_with_prefix(fmt::format("{}backend '{}': ", model.where, id));
        }
        if (!registry_.find(id)) {
          throw InputError(fmt::format(
              "{}backend '{}': the plugin loaded under that name reports a different id",
              model.where, id));
        }
      }
      backends.push_back(id);
    }
    if (backends.empty()) {
      throw InputError(fmt::format("{}none of the backends [{}] is available", model.where,
                                   fmt::join(model.backends, ", ")));
    }
    return backends;
  }

  // A model's graph with what reading it cost; made before the model's
  // plugins are needed, so it may be made while they load.
  struct PreparedGraph {
    Graph graph;
    double ms = 0;  // all of it
    double weights_load_ms = 0;
    double checkpoint_map_ms = 0;
    double checkpoint_convert_ms = 0;
    bool beside_plugin_load = false;  // made while the plugins loaded
  };

  PreparedGraph prepare_graph(const ModelConfig& config) const {
    PreparedGraph prepared;
    const auto start = Clock::now();
    try {
      Graph& graph = prepared.graph;
      if (!config.weights.empty()) {
        LlamaLoadStats stats;
        graph = load_llama_checkpoint(resolve_config_path(config.weights, config_.file),
                                      llama_load_options(config.params), &stats);
        prepared.weights_load_ms = ms_since(start);
        prepared.checkpoint_map_ms = stats.map_ms;
        prepared.checkpoint_convert_ms = stats.convert_ms;
      } else if (!config.builtin.empty()) {
        graph = build_template(config.builtin, config.params);
      } else if (!config.onnx.empty()) {
        OnnxImportOptions import_options;
        import_options.shapes = config.shapes;
        import_options.alias = config.alias;
        import_options.fuse = config.fuse;
        graph = import_onnx(resolve_config_path(config.onnx, config_.file), import_options);
      } else {
        graph = load_graph_yaml(resolve_config_path(config.graph, config_.file));
      }
      if (graph.name.empty()) graph.name = config.name;
    } catch (...) {
      rethrow_with_prefix(config.where);
    }
    prepared.ms = ms_since(start);
    return prepared;
  }

  BuiltModel& model(const std::string& name) {
    if (auto found = models_.find(name); found != models_.end()) return found->second;
    const ModelConfig& config = *config_.find_model(name);
    BuiltModel built;
    CompileOptions options;
    options.backends = available_backends(config);
    options.fallback_data_dependent_ops = config.fallback_data_dependent_ops;
    options.require_full_compilation = config.require_full_compilation;
    // Plugins loaded together overlap: their wall time counts once.
    double together = 0;
    for (const std::string& id : options.backends) {
      if (loaded_together_.count(id) != 0) {
        together = together_ms_;
      } else {
        built.times.plugin_load_ms += load_ms_[id];
      }
    }
    built.times.plugin_load_ms += together;

    PreparedGraph prepared;
    if (auto early = prepared_.find(name); early != prepared_.end()) {
      prepared = std::move(early->second);
      prepared_.erase(early);
    } else {
      prepared = prepare_graph(config);
    }
    built.times.weights_load_ms = prepared.weights_load_ms;
    built.times.checkpoint_map_ms = prepared.checkpoint_map_ms;
    built.times.checkpoint_convert_ms = prepared.checkpoint_convert_ms;
    built.times.graph_beside_plugin_load_ms = prepared.beside_plugin_load ? prepared.ms : 0;
    const auto start = Clock::now();
    try {
      built.model = Model::build(std::move(prepared.graph), registry_, options);
      built.times.upload_ms = ms_since(start);
    } catch (...) {
      rethrow_with_prefix(config.where);
    }
    built.times.model_build_ms = prepared.ms + ms_since(start);

    // Top-level runtime settings, then the model's own on top.
    std::map<std::string, std::string> overrides = config_.runtime;
    for (const auto& [key, value] : config.runtime) overrides[key] = value;
    const bool use_shared_cache =
        shared_cache_ && overrides.at("runtime_cache") == config_.runtime.at("runtime_cache");
    if (use_shared_cache) overrides.erase("runtime_cache");
    try {
      for (Module* module : built.model->modules()) {
        RuntimeSettings settings = module->runtime_settings().merge(overrides);
        if (use_shared_cache) settings.runtime_cache = shared_cache_;
        module->set_runtime_settings(settings);
      }
      const auto modules = built.model->modules();
      built.settings = modules.empty() ? RuntimeSettings{}.merge(overrides).to_map()
                                       : modules.front()->runtime_settings().to_map();
      if (use_shared_cache) built.settings["runtime_cache"] = shared_cache_path_.string();
    } catch (...) {
      rethrow_with_prefix(config.where);
    }
    for (const Partition& partition : built.model->partitions()) {
      PartitionReport& report = built.partitions.emplace_back();
      report.plugin = partition.plugin;
      report.nodes = partition.nodes.size();
      report.inputs = partition.inputs;
      report.outputs = partition.outputs;
    }
    return models_.emplace(name, std::move(built)).first->second;
  }

  ModelReport run_entry(const RunEntry& run) {
    const CacheCounters cache_before = shared_cache_ ? shared_cache_->counters() : CacheCounters{};
    BuiltModel& built = model(run.model);
    Model& model = *built.model;
    ModelReport report;
    report.name = run.name;
    report.model = run.model;
    report.settings = built.settings;
    static_cast<ModelBuildTimes&>(report) = built.times;
    report.checkpoint_prefault_ms = std::exchange(prefault_ms_, 0.0);
    report.partitions = built.partitions;
    report.warmup = run.warmup;
    try {
      Model* prefill = nullptr;
      if (!run.workload.prefill.empty() && run.workload.prefill != run.model) {
        prefill = this->model(run.workload.prefill).model.get();
        // The decode model continues in the prefill model's KV caches.
        model.share_state(*prefill);
      }
      const std::unique_ptr<Workload> workload = make_workload(run.workload, model, prefill);
      report.workload = workload->describe();
      report.throughput_unit = workload->item_unit();
      report.batch = workload->items_per_iteration();
      const uint64_t contexts_before = contexts_created(model);
      const std::vector<StagedBytes> staged_before = staged_bytes(model);

      {
        trace::Span span("run", "warm-up " + run.name);
        for (int64_t i = 0; i < run.warmup; ++i) workload->run_iteration();
      }
      trace::Span measured_span("run", "measure " + run.name);
      const std::vector<std::map<std::string, uint64_t>> counters_before = plugin_counters(model);
      // Counter growth during untimed work inside the measured span (a
      // stream restarting on a new prompt through the same model), left
      // out of measured_counters so that they are per measured iteration.
      std::vector<std::map<std::string, uint64_t>> untimed_start;
      std::vector<std::map<std::string, uint64_t>> untimed(counters_before.size());
      workload->observe_untimed_work(
          [&] { untimed_start = plugin_counters(model); },
          [&] {
            const auto now = plugin_counters(model);
            for (std::size_t p = 0;
                 p < untimed.size() && p < now.size() && p < untimed_start.size(); ++p) {
              for (const auto& [name, grown] : counters_between(untimed_start[p], now[p])) {
                untimed[p][name] += grown;
              }
            }
          });
      std::vector<double> samples_ms;
      samples_ms.reserve(static_cast<std::size_t>(run.iterations));
      ProgressLine progress(options_.show_progress, run.name, run.iterations, run.duration);
      const auto start = Clock::now();
      // Both the count and the duration are lower bounds.
      while (static_cast<int64_t>(samples_ms.size()) < run.iterations ||
             Clock::now() - start < run.duration) {
        samples_ms.push_back(to_ms(workload->run_iteration()));
        progress.update(static_cast<int64_t>(samples_ms.size()));
      }
      report.measured_s = ms_since(start) / 1000;
      report.first_inference_ms = to_ms(workload->first_run().value_or(std::chrono::nanoseconds{}));
      if (const auto end = workload->first_run_end()) {
        report.start_to_first_token_ms =
            std::chrono::duration<double, std::milli>(*end - process_start_).count();
      }
      report.pipelines_ms = pipeline_create_ms(model, prefill);
      report.plugin_phases_ms = plugin_phases_ms(model, prefill);
      report.iterations = static_cast<int64_t>(samples_ms.size());
      const double total_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0);
      report.throughput_per_s =
          total_ms > 0 ? static_cast<double>(workload->items_per_iteration() * report.iterations) /
                             (total_ms / 1000)
                       : 0;
      if (options_.keep_samples) report.samples_ms = samples_ms;
      report.latency_ms =
          summarize(std::move(samples_ms), percentiles_to_compute(config_.report.percentiles));
      report.contexts_created = contexts_created(model) - contexts_before;
      const std::vector<std::map<std::string, uint64_t>> counters_after = plugin_counters(model);
      for (std::size_t p = 0; p < report.partitions.size() && p < counters_after.size(); ++p) {
        std::map<std::string, uint64_t> measured =
            counters_between(counters_before[p], counters_after[p]);
        for (auto& [name, value] : measured) {
          const auto excluded = untimed[p].find(name);
          if (excluded != untimed[p].end()) value -= std::min(value, excluded->second);
        }
        report.partitions[p].measured_counters = std::move(measured);
      }
      workload->observe_untimed_work({}, {});
      const std::vector<StagedBytes> staged_after = staged_bytes(model);
      for (std::size_t p = 0; p < report.partitions.size() && p < staged_after.size(); ++p) {
        PartitionReport& partition = report.partitions[p];
        partition.staged_bytes = staged_between(staged_before[p], staged_after[p]);
        const int64_t runs = report.iterations + run.warmup;
        partition.staged_bytes_per_iteration =
            runs > 0 ? static_cast<double>(partition.staged_bytes) / static_cast<double>(runs) : 0;
      }
      if (shared_cache_) {
        const CacheCounters now = shared_cache_->counters();
        report.cache = {true,
                        shared_cache_path_.string(),
                        now.hits - cache_before.hits,
                        now.misses - cache_before.misses,
                        now.rejected - cache_before.rejected,
                        now.evicted - cache_before.evicted,
                        now.bytes,
                        std::exchange(cache_load_ms_, 0.0),
                        0.0};
        if (!config_.cache_remote.empty()) {
          report.cache.remote = config_.cache_remote;
          report.cache.remote_fetched = now.remote_fetched - cache_before.remote_fetched;
          report.cache.remote_rejected = now.remote_rejected - cache_before.remote_rejected;
          report.cache.remote_failed = now.remote_faults > 0;
        }
      }
    } catch (...) {
      rethrow_with_prefix(fmt::format("{}model '{}': ", run.where, run.model));
    }
    return report;
  }

  ReportContext context() const {
    ReportContext context;
    context.host = host_name();
    context.rtscope_version = RTSCOPE_VERSION;
    context.abi_major = RTS_ABI_VERSION_MAJOR;
    context.abi_minor = RTS_ABI_VERSION_MINOR;
    context.timestamp_utc = utc_timestamp();
    context.config = config_.file.string();
    context.command_line = options_.command_line;
    for (const std::shared_ptr<Plugin>& plugin : registry_.plugins()) {
      PluginReport entry{
          plugin->id(), plugin->version(), plugin->path().string(), plugin->abi_minor(), {}};
      for (const DeviceInfo& device : plugin->devices()) {
        entry.devices.push_back(
            {device.name, device_kind_name(device.kind), device.fingerprint, device.memory_bytes});
      }
      context.plugins.push_back(std::move(entry));
    }
    return context;
  }

  const RunConfig& config_;
  const RunnerOptions& options_;
  Clock::time_point process_start_;
  // Declared before models_ so it outlives every model built on it.
  PluginRegistry registry_;
  std::map<std::string, double> load_ms_;          // plugin id -> load time
  std::set<std::string> loaded_together_;          // ids loaded on threads at once
  double together_ms_ = 0;                         // its wall time
  std::set<std::string> failed_optional_;          // names of optional plugins that failed
  std::map<std::string, PreparedGraph> prepared_;  // graphs read while the plugins loaded
  double prefault_ms_ = 0;                         // paging them in, after that
  std::shared_ptr<RuntimeCache> shared_cache_;
  std::filesystem::path shared_cache_path_;
  double cache_load_ms_ = 0;
  // Declared after the cache so modules detach before it goes away.
  std::map<std::string, BuiltModel> models_;
};

}  // namespace

std::vector<ModelPlacements> place_models(const RunConfig& config) {
  const RunnerOptions options;
  return Runner(config, options).place();
}

std::string fold_lines(const std::string& message) {
  std::string line;
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] != '\n') {
      line += message[i];
      continue;
    }
    while (i + 1 < message.size() && (message[i + 1] == ' ' || message[i + 1] == '\t')) ++i;
    if (line.empty() || i + 1 == message.size()) continue;
    line += line.back() == ':' ? " " : "; ";
  }
  return line;
}

void warn(const std::string& message) {
  fmt::print(stderr, "rtscope-run: warning: {}\n", fold_lines(message));
}

Report run_benchmarks(const RunConfig& config, const RunnerOptions& options) {
  return Runner(config, options).run();
}

}  // namespace rtscope::runner
