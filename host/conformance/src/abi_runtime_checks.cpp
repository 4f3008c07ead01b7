// What a context is created with: the host's cache store, the runtime
// strategy settings, and the optional device memory slots.
#include <cstring>
#include <mutex>

#include "abi_check_support.hpp"

namespace rtscope::conformance::detail {
namespace {

// An in-memory rts_cache_store that records how the plugin uses it.
class RecordingCache {
 public:
  explicit RecordingCache(std::string fingerprint) : fingerprint_(std::move(fingerprint)) {
    store_.struct_size = sizeof(store_);
    store_.user = this;
    store_.get = &RecordingCache::get;
    store_.put = &RecordingCache::put;
  }
  const rts_cache_store* store() const { return &store_; }

  struct Usage {
    int gets = 0, hits = 0, puts = 0;
    std::string problem;  // first contract violation seen
  };
  Usage usage() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return usage_;
  }

 private:
  void note(const std::string& problem) {
    if (usage_.problem.empty()) usage_.problem = problem;
  }
  void check_key(const char* fingerprint, const char* key) {
    if (!fingerprint || fingerprint_ != fingerprint)
      note("cache key used fingerprint '" + std::string(fingerprint ? fingerprint : "(null)") +
           "', but device_info says '" + fingerprint_ + "'");
    if (!key || !*key) note("cache used an empty key");
  }
  static rts_status get(void* user, const char* fingerprint, const char* key,
                        const rts_blob_sink* sink) {
    auto* self = static_cast<RecordingCache*>(user);
    std::vector<uint8_t> bytes;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      ++self->usage_.gets;
      self->check_key(fingerprint, key);
      auto it = self->entries_.find(key ? key : "");
      if (it == self->entries_.end()) return RTS_ERROR_NOT_FOUND;
      ++self->usage_.hits;
      bytes = it->second;
    }
    if (sink && sink->write && sink->write(sink->user, bytes.data(), bytes.size()) != 0)
      return RTS_ERROR_INTERNAL;
    return RTS_OK;
  }
  static rts_status put(void* user, const char* fingerprint, const char* key, const void* data,
                        uint64_t size) {
    auto* self = static_cast<RecordingCache*>(user);
    std::lock_guard<std::mutex> lock(self->mutex_);
    ++self->usage_.puts;
    self->check_key(fingerprint, key);
    if (!data && size) self->note("cache put with NULL data");
    const auto* bytes = static_cast<const uint8_t*>(data);
    self->entries_[key ? key : ""] = std::vector<uint8_t>(bytes, bytes + (data ? size : 0));
    return RTS_OK;
  }

  std::string fingerprint_;
  rts_cache_store store_{};
  mutable std::mutex mutex_;
  Usage usage_;
  std::map<std::string, std::vector<uint8_t>> entries_;
};

std::string device_fingerprint(const Target& t) {
  rts_device_info info{};
  info.struct_size = sizeof(info);
  ErrorCapture err;
  err.require_ok(t.api().device_info(t.handle(), t.device, &info, err.sink()), "device_info");
  return info.fingerprint;
}

// Tuning caches are mostly keyed by matmul shapes: prefer a matmul case.
Probe cache_probe(const Probe& probe) {
  for (const auto& c : op_cases()) {
    if (c.label != "matmul_2d") continue;
    auto graph = std::make_unique<CaseGraph>(c, probe.graph->dtype());
    if (supports(probe.target, *graph))
      return Probe{probe.target, std::move(graph), probe.seed, probe.serialization_declined};
  }
  return Probe{probe.target,
               std::make_unique<CaseGraph>(probe.graph->op_case(), probe.graph->dtype()),
               probe.seed, probe.serialization_declined};
}

std::string cache_store(const Probe& base) {
  const Probe probe = cache_probe(base);
  const Target& t = probe.target;
  RecordingCache cache(device_fingerprint(t));
  Engine engine = build_engine(t, probe.graph->abi());
  for (auto mode : {RTS_KERNEL_SPECIALIZATION_LAZY, RTS_KERNEL_SPECIALIZATION_EAGER}) {
    rts_runtime_settings settings = default_settings();
    settings.kernel_specialization = mode;
    settings.cache = cache.store();
    // A second context finds what the first one stored.
    for (int round = 0; round < 2; ++round) {
      Context context = create_context(t, engine, settings);
      execute_and_verify(probe, engine, context, probe.seed + 700 + round);
    }
  }
  const RecordingCache::Usage usage = cache.usage();
  if (!usage.problem.empty()) throw CallFailure(usage.problem);
  const std::string seen = probe.graph->op_case().label + ": " + std::to_string(usage.gets) +
                           " gets, " + std::to_string(usage.hits) + " hits, " +
                           std::to_string(usage.puts) + " puts";
  if (usage.puts > 0 && usage.hits == 0)
    throw CallFailure("entries were stored but never read back by a later context (" + seen + ")");
  return usage.gets + usage.puts == 0 ? "the plugin does not use the cache store" : seen;
}

const char* name_of(rts_kernel_specialization mode) {
  switch (mode) {
    case RTS_KERNEL_SPECIALIZATION_LAZY:
      return "lazy";
    case RTS_KERNEL_SPECIALIZATION_EAGER:
      return "eager";
    case RTS_KERNEL_SPECIALIZATION_NONE:
      return "none";
  }
  return "?";
}

// A combination the plugin accepts must run correctly, including replays of
// a captured graph; one it refuses must say why.
std::string settings_combination(const Probe& probe, rts_kernel_specialization mode,
                                 rts_graph_capture capture) {
  const Target& t = probe.target;
  Engine engine = build_engine(t, probe.graph->abi());
  rts_runtime_settings settings = default_settings();
  settings.kernel_specialization = mode;
  settings.graph_capture = capture;
  if (RTS_HAS_FIELD(&t.api(), rts_plugin_api, validate_settings) && t.api().validate_settings) {
    ErrorCapture err;
    const rts_status status = t.api().validate_settings(engine.get(), &settings, err.sink());
    if (status != RTS_OK) {
      require_reported_error("validate_settings", status, err);
      return "refused: " + err.message();
    }
  }
  ErrorCapture err;
  rts_context* raw = nullptr;
  const rts_status status = t.api().create_context(engine.get(), &settings, &raw, err.sink());
  if (status != RTS_OK) {
    require_reported_error("create_context", status, err);
    return "refused: " + err.message();
  }
  Context context(&t.api(), raw);
  for (int r = 0; r < 3; ++r) execute_and_verify(probe, engine, context, probe.seed + 800 + r);
  return "";
}

std::string device_memory(const Target& t) {
  const rts_plugin_api& api = t.api();
  constexpr uint64_t kBytes = 4096;
  const Tensor source = Tensor::random(DType::f32, {kBytes / 4}, 901, 1.0);
  Tensor back = Tensor::zeros(DType::f32, {kBytes / 4});
  void* device_ptr = nullptr;
  ErrorCapture alloc_err;
  alloc_err.require_ok(
      api.device_alloc(t.handle(), t.device, kBytes, &device_ptr, alloc_err.sink()),
      "device_alloc");
  struct Free {
    const Target& t;
    void* ptr;
    ~Free() { t.api().device_free(t.handle(), t.device, ptr); }
  } free_at_end{t, device_ptr};
  ErrorCapture up;
  up.require_ok(api.device_copy(t.handle(), t.device, device_ptr, const_cast<void*>(source.data()),
                                kBytes, 1, up.sink()),
                "device_copy (to device)");
  ErrorCapture down;
  down.require_ok(
      api.device_copy(t.handle(), t.device, device_ptr, back.data(), kBytes, 0, down.sink()),
      "device_copy (to host)");
  if (std::memcmp(source.data(), back.data(), kBytes) != 0)
    throw CallFailure("bytes copied to the device and back differ");
  return "";
}

}  // namespace

std::vector<CheckResult> runtime_checks(const Probe& probe, const AbiCheckOptions&) {
  const std::string dtype = probe.dtype();
  std::vector<CheckResult> rows;
  rows.push_back(run_check("cache.store", dtype, [&] { return cache_store(probe); }));
  for (auto mode : {RTS_KERNEL_SPECIALIZATION_LAZY, RTS_KERNEL_SPECIALIZATION_EAGER,
                    RTS_KERNEL_SPECIALIZATION_NONE}) {
    for (auto capture : {RTS_GRAPH_CAPTURE_DISABLED, RTS_GRAPH_CAPTURE_WHOLE_GRAPH}) {
      const std::string name = std::string("settings.") + name_of(mode) +
                               (capture == RTS_GRAPH_CAPTURE_WHOLE_GRAPH ? "+capture" : "");
      rows.push_back(
          run_check(name, dtype, [&] { return settings_combination(probe, mode, capture); }));
    }
  }
  const Target& t = probe.target;
  const bool has_memory = RTS_HAS_FIELD(&t.api(), rts_plugin_api, device_copy) &&
                          t.api().device_alloc && t.api().device_free && t.api().device_copy;
  if (!has_memory) {
    rows.push_back(observed_row({"abi device_memory", "-", CheckStatus::skipped, std::nullopt,
                                 "device_alloc is NULL: host residency only"}));
    return rows;
  }
  rows.push_back(run_check("device_memory.round_trip", "-", [&] { return device_memory(t); }));
  return rows;
}

}  // namespace rtscope::conformance::detail
