#include <istream>

#include "rtscope/error.hpp"
#include "rtscope/log.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/trace.hpp"

namespace rtscope {
namespace {

// Warnings go to the rtscope logger, the cache's default.
std::shared_ptr<RuntimeCache> make_cache() { return std::make_shared<RuntimeCache>(); }

}  // namespace

RuntimeCacheScope::RuntimeCacheScope(const ScopeTarget& target,
                                     std::optional<std::filesystem::path> path,
                                     std::iostream* stream, std::shared_ptr<RuntimeCache> cache)
    : modules_(target.modules()),
      cache_(cache ? std::move(cache) : make_cache()),
      path_(std::move(path)),
      stream_(stream) {
  if (modules_.empty()) {
    throw InputError(
        "runtime_cache: the target has no modules; pass a Module, a Model or a list "
        "of them that holds at least one module");
  }
  if (path_) {
    trace::Span span("cache", "load runtime cache");
    span.arg("path", path_->string());
    loaded_bytes_ = cache_->load(*path_);
  } else if (stream_) {
    loaded_bytes_ = cache_->load_from_stream(*stream_);
  }
  SettingsPatch patch;  // only the cache changes
  patch.runtime_cache = cache_;
  attach_.emplace(modules_, patch);
}

RuntimeCacheScope::RuntimeCacheScope(const ScopeTarget& target, const std::filesystem::path& path)
    : RuntimeCacheScope(target, path, nullptr) {}
RuntimeCacheScope::RuntimeCacheScope(const ScopeTarget& target, const std::filesystem::path& path,
                                     RuntimeCache::Options options)
    : RuntimeCacheScope(target, path, nullptr, std::make_shared<RuntimeCache>(std::move(options))) {
}
RuntimeCacheScope::RuntimeCacheScope(const ScopeTarget& target, std::iostream& stream)
    : RuntimeCacheScope(target, std::nullopt, &stream) {}
RuntimeCacheScope::RuntimeCacheScope(const ScopeTarget& target, InMemoryCache)
    : RuntimeCacheScope(target, std::nullopt, nullptr) {}

RuntimeCacheScope::RuntimeCacheScope(RuntimeCacheScope&& other) noexcept
    : modules_(std::move(other.modules_)),
      cache_(std::move(other.cache_)),
      path_(std::exchange(other.path_, std::nullopt)),
      stream_(std::exchange(other.stream_, nullptr)),
      loaded_bytes_(other.loaded_bytes_),
      attach_(std::exchange(other.attach_, std::nullopt)) {}

uint64_t RuntimeCacheScope::save() {
  trace::Span span("cache", "save runtime cache");
  if (path_) return cache_->save(*path_);
  if (stream_) {
    stream_->clear();
    stream_->seekp(0);
    const uint64_t written = cache_->save_to_stream(*stream_);
    stream_->flush();
    if (!*stream_) throw Error("runtime_cache: writing the cache stream failed");
    return written;
  }
  return 0;
}

RuntimeCacheScope::~RuntimeCacheScope() {
  if (!attach_) return;  // moved from
  attach_.reset();       // detach: no new execute reaches the cache
  for (SettingsTarget* target : modules_) {
    if (auto* module = dynamic_cast<Module*>(target)) module->wait_idle();
  }
  if (path_) {
    // The last save of these entries: it waits longer for other writers
    // and warns itself on failure.
    trace::Span span("cache", "save runtime cache");
    cache_->try_save_final(*path_);
    return;
  }
  try {
    save();
  } catch (const std::exception& e) {
    log().warn("runtime_cache: saving on scope exit failed, continuing without it: {}", e.what());
  }
}

}  // namespace rtscope
