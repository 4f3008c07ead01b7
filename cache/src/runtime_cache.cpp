#include "rtscope/runtime_cache.hpp"

#include <algorithm>
#include <atomic>
#include <istream>
#include <mutex>
#include <ostream>
#include <set>
#include <type_traits>

#include "cache_file_format.hpp"
#include "cache_file_saver.hpp"
#include "cache_path_guard.hpp"
#include "file_lock.hpp"
#include "redis_url.hpp"
#include "remote_entry.hpp"
#include "remote_tier.hpp"
#include "rtscope/error.hpp"
#include "rtscope/log.hpp"

namespace rtscope {
namespace {

using cache_format::Entry;
using cache_format::EntryMap;
using cache_format::printable;

// Wall-clock time, strictly increasing within the process (across all
// caches) so that a put always counts as newer than any put before it. Wall
// clock rather than a steady clock because times are compared across
// processes.
uint64_t now_ns() {
  static std::atomic<uint64_t> last{0};
  const auto wall = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  uint64_t prev = last.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = std::max(wall, prev + 1);
  } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  return next;
}

bool same_version(const Entry& a, const Entry& b) {
  return a.written_ns == b.written_ns && a.payload_hash == b.payload_hash;
}

// Merges one entry read from a file into `entries`: per key the newer write
// and the later use. `in_home` says the entry is in the cache's home file,
// so the result is clean when the file knows all that memory knows.
void absorb(EntryMap& entries, const CacheKey& key, const Entry& incoming, bool in_home) {
  auto [it, inserted] = entries.try_emplace(key, incoming);
  Entry& current = it->second;
  if (inserted) {
    current.clean = in_home;
  } else if (cache_format::replaces(incoming, current)) {
    const bool clean = in_home && incoming.last_used_ns >= current.last_used_ns;
    const uint64_t last_used = std::max(incoming.last_used_ns, current.last_used_ns);
    current = incoming;
    current.last_used_ns = last_used;
    current.clean = clean;
  } else if (same_version(incoming, current)) {
    if (in_home && incoming.last_used_ns >= current.last_used_ns) current.clean = true;
    current.last_used_ns = std::max(incoming.last_used_ns, current.last_used_ns);
  } else {
    // Memory holds a newer write than the file.
    current.last_used_ns = std::max(incoming.last_used_ns, current.last_used_ns);
    current.clean = false;
  }
}

}  // namespace

struct RuntimeCache::State {
  // Bytes read by load() that have not been validated yet.
  struct Pending {
    std::vector<uint8_t> bytes;
    std::string source;
    std::filesystem::path canonical;  // empty for a stream
  };

  std::mutex mutex;
  EntryMap entries;
  std::vector<Pending> pending;
  CacheCounters counters;
  // The file last loaded from or saved to; Entry::clean refers to it.
  std::filesystem::path home;

  void recount_bytes() {
    counters.bytes = 0;
    for (const auto& [key, entry] : entries) counters.bytes += entry.payload->size();
  }

  void set_home(const std::filesystem::path& path) {
    if (path == home) return;
    for (auto& [key, entry] : entries) entry.clean = false;
    home = path;
  }

  // Validates pending bytes and merges them in. Runs on first use after a
  // load, under `mutex`, so a reader never sees half of a drain.
  void drain(std::vector<std::string>& warnings) {
    if (pending.empty()) return;
    for (const Pending& p : pending) {
      const cache_format::Decoded decoded = cache_format::decode(p.bytes);
      if (!p.canonical.empty()) set_home(p.canonical);
      for (const auto& [key, entry] : decoded.entries) {
        absorb(entries, key, entry, !p.canonical.empty());
      }
      counters.rejected += decoded.rejected;
      if (decoded.rejected > 0) {
        warnings.push_back("runtime cache '" + p.source + "': skipped " +
                           std::to_string(decoded.rejected) + " invalid entries (" +
                           decoded.problems.front() + ")");
      }
    }
    pending.clear();
    recount_bytes();
  }

  // After this cache wrote `merged` (evicting `evicted`) to the home file:
  // takes in what other processes had saved, and drops what the cap evicted
  // unless it was used or replaced since.
  void adopt(const EntryMap& merged, const EntryMap& evicted) {
    for (const auto& [key, entry] : merged) absorb(entries, key, entry, /*in_home=*/true);
    for (const auto& [key, gone] : evicted) {
      auto it = entries.find(key);
      if (it != entries.end() && !cache_format::replaces(it->second, gone) &&
          it->second.last_used_ns <= gone.last_used_ns) {
        entries.erase(it);
      }
    }
    counters.evicted += evicted.size();
    recount_bytes();
  }

  // After another process's write carried `handed_over` into the home file.
  void mark_saved(const EntryMap& handed_over) {
    for (const auto& [key, saved] : handed_over) {
      auto it = entries.find(key);
      if (it != entries.end() && same_version(it->second, saved) &&
          it->second.last_used_ns == saved.last_used_ns) {
        it->second.clean = true;
      }
    }
  }
};

RuntimeCache::RuntimeCache() : RuntimeCache(Options{}) {}

void RuntimeCache::check_remote(const std::string& url) { cache_remote::parse_redis_url(url); }

RuntimeCache::RuntimeCache(Options options)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  if (!options_.warn) {
    options_.warn = [](const std::string& message) { log().warn("runtime cache: {}", message); };
  }
  if (!options_.remote.empty()) {
    // A fingerprint's entries arrive in one reply: allow what a file of this
    // cap may hold, plus the addresses and framing around each value.
    const uint64_t limit = cache_file::read_limit(options_.max_bytes);
    remote_ =
        std::make_unique<cache_remote::RemoteTier>(cache_remote::parse_redis_url(options_.remote),
                                                   limit > UINT64_MAX / 2 ? UINT64_MAX : limit * 2);
  }
}

RuntimeCache::~RuntimeCache() = default;

void RuntimeCache::warn_all(const std::vector<std::string>& warnings) const {
  for (const auto& w : warnings) options_.warn(w);
}

template <class Body>
auto RuntimeCache::with_state(Body body) const {
  std::vector<std::string> warnings;
  const auto locked = [&] {
    std::lock_guard lock(state_->mutex);
    state_->drain(warnings);
    return body(*state_);
  };
  if constexpr (std::is_void_v<decltype(locked())>) {
    locked();
    warn_all(warnings);
  } else {
    auto result = locked();
    warn_all(warnings);
    return result;
  }
}

void RuntimeCache::fetch_remote(const CacheKey& key) {
  std::vector<std::string> warnings;
  auto local_addresses = [&] {
    std::set<std::string> addresses;
    std::lock_guard lock(state_->mutex);
    state_->drain(warnings);
    const CacheKey first{key.plugin_id, key.device_fingerprint, {}};
    for (auto it = state_->entries.lower_bound(first);
         it != state_->entries.end() && it->first.plugin_id == key.plugin_id &&
         it->first.device_fingerprint == key.device_fingerprint;
         ++it) {
      addresses.insert(cache_remote::content_address(it->first, it->second));
    }
    return addresses;
  };
  cache_remote::FetchResult fetched =
      remote_->fetch(key.plugin_id, key.device_fingerprint, local_addresses);
  {
    std::lock_guard lock(state_->mutex);
    for (const auto& [k, entry] : fetched.entries) absorb(state_->entries, k, entry, false);
    state_->counters.remote_fetched += fetched.entries.size();
    state_->counters.remote_rejected += fetched.rejected;
    state_->counters.rejected += fetched.rejected;
    state_->counters.remote_faults += fetched.faults;
    if (!fetched.entries.empty()) state_->recount_bytes();
  }
  warn_all(warnings);
  warn_all(fetched.warnings);
}

uint64_t RuntimeCache::push_remote() {
  if (!remote_) return 0;
  const EntryMap all = with_state([](const State& state) { return state.entries; });
  const cache_remote::PushResult pushed = remote_->push(all);
  {
    std::lock_guard lock(state_->mutex);
    state_->counters.remote_pushed += pushed.pushed;
    state_->counters.remote_faults += pushed.faults;
  }
  warn_all(pushed.warnings);
  return pushed.pushed;
}

std::optional<std::vector<uint8_t>> RuntimeCache::get(const CacheKey& key) {
  if (remote_) fetch_remote(key);
  return with_state([&key](State& state) -> std::optional<std::vector<uint8_t>> {
    auto it = state.entries.find(key);
    if (it == state.entries.end()) {
      ++state.counters.misses;
      return std::nullopt;
    }
    ++state.counters.hits;
    it->second.last_used_ns = now_ns();
    it->second.clean = false;  // the file should learn of this use
    return *it->second.payload;
  });
}

void RuntimeCache::put(const CacheKey& key, const void* data, std::size_t size) {
  if (std::string problem = cache_format::identity_problem(key); !problem.empty()) {
    {
      std::lock_guard lock(state_->mutex);
      ++state_->counters.rejected;
    }
    options_.warn("runtime cache: not storing entry of plugin '" + printable(key.plugin_id) +
                  "', key '" + printable(key.key) + "': " + problem);
    return;
  }
  const auto* bytes = static_cast<const uint8_t*>(data);
  Entry entry;
  entry.payload = std::make_shared<const std::vector<uint8_t>>(bytes, bytes + size);
  entry.payload_hash = cache_format::hash_payload(bytes, size);
  with_state([&](State& state) {
    entry.written_ns = entry.last_used_ns = now_ns();
    auto [it, inserted] = state.entries.try_emplace(key, entry);
    if (!inserted) {
      state.counters.bytes -= it->second.payload->size();
      it->second = std::move(entry);
    }
    state.counters.bytes += size;
  });
}

std::size_t RuntimeCache::size() const {
  return with_state([](const State& state) { return state.entries.size(); });
}

CacheCounters RuntimeCache::counters() const {
  return with_state([](const State& state) { return state.counters; });
}

uint64_t RuntimeCache::add_pending(std::vector<uint8_t> bytes, const std::string& source,
                                   const std::filesystem::path& canonical) {
  if (bytes.empty()) return 0;  // an empty (or new) file or stream is an empty cache
  if (std::string problem = cache_format::header_problem(bytes); !problem.empty()) {
    {
      std::lock_guard lock(state_->mutex);
      ++state_->counters.rejected;
    }
    options_.warn("ignoring runtime cache '" + source + "': " + problem + "; starting cold");
    return 0;
  }
  const uint64_t size = bytes.size();
  std::lock_guard lock(state_->mutex);
  state_->pending.push_back({std::move(bytes), source, canonical});
  return size;
}

uint64_t RuntimeCache::load(const std::filesystem::path& path) {
  std::vector<uint8_t> bytes;
  std::filesystem::path canonical;
  try {
    canonical = cache_file::canonical_cache_path(path);
    cache_file::check_cache_folder(canonical.parent_path());
    const cache_file::OpenedFile opened =
        cache_file::open_regular(canonical, "runtime cache", options_.max_bytes);
    if (!opened) return 0;  // cold start
    cache_file::read_bounded(opened, canonical, options_.max_bytes, bytes);
  } catch (const std::exception& e) {
    options_.warn(std::string(e.what()) + "; running without the cached entries");
    return 0;
  }
  return add_pending(std::move(bytes), path.string(), canonical);
}

uint64_t RuntimeCache::load_from_stream(std::istream& in) {
  // At most the read limit (and one byte to tell a longer stream): an
  // endless stream costs neither unbounded memory nor time.
  const uint64_t limit = cache_file::read_limit(options_.max_bytes);
  std::vector<uint8_t> bytes;
  char chunk[1 << 16];
  while (bytes.size() <= limit) {
    const auto want =
        static_cast<std::streamsize>(std::min<uint64_t>(sizeof chunk, limit + 1 - bytes.size()));
    if (!in.read(chunk, want) && in.gcount() == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
  }
  if (in.bad()) {
    options_.warn("cannot read runtime cache from stream; running without the cached entries");
    return 0;
  }
  if (bytes.size() > limit) {
    options_.warn("runtime cache stream is over 4 times the size cap of " +
                  std::to_string(options_.max_bytes) +
                  " bytes; running without the cached entries");
    return 0;
  }
  return add_pending(std::move(bytes), "<stream>", {});
}

uint64_t RuntimeCache::save(const std::filesystem::path& path) {
  uint64_t bytes = 0;
  try {
    bytes = save_waiting(path, options_.lock_timeout);
  } catch (...) {
    push_remote();
    throw;
  }
  push_remote();
  return bytes;
}

uint64_t RuntimeCache::save_waiting(const std::filesystem::path& path,
                                    std::chrono::milliseconds lock_timeout) {
  try {
    // A new cache's folders are made here (loading a missing file is only a
    // cold start); a folder others may write to is refused.
    cache_file::create_cache_folders(std::filesystem::absolute(path).lexically_normal());
    const std::filesystem::path canonical = cache_file::canonical_cache_path(path);
    cache_file::check_cache_folder(canonical.parent_path());
    return save_file(canonical, lock_timeout);
  } catch (const std::filesystem::filesystem_error& e) {
    throw Error("cannot save runtime cache '" + path.string() + "': " + e.code().message());
  } catch (const Error& e) {
    throw Error("cannot save runtime cache '" + path.string() + "': " + e.what());
  }
}

uint64_t RuntimeCache::save_file(const std::filesystem::path& canonical,
                                 std::chrono::milliseconds lock_timeout) {
  std::vector<std::string> warnings;
  EntryMap all;
  EntryMap changed;
  {
    std::lock_guard guard(state_->mutex);
    state_->drain(warnings);
    state_->set_home(canonical);
    all = state_->entries;
    for (const auto& [key, entry] : all) {
      if (!entry.clean) changed.emplace(key, entry);
    }
  }
  warn_all(warnings);

  cache_file::SaveInput input;
  input.all = &all;
  input.changed = &changed;
  input.max_bytes = options_.max_bytes;
  input.lock_timeout = lock_timeout;
  input.on_phase = options_.on_save_phase;
  cache_file::SaveResult result;
  auto account = [&] {
    std::lock_guard guard(state_->mutex);
    state_->counters.lock_wait_ns += static_cast<uint64_t>(result.lock_wait.count());
    state_->counters.rejected += result.rejected;
  };
  try {
    cache_file::save_cache_file(canonical, input, result);
  } catch (...) {
    account();
    warn_all(result.warnings);
    throw;
  }
  account();
  {
    std::lock_guard guard(state_->mutex);
    if (state_->home == canonical) {
      if (result.wrote_file) {
        state_->adopt(result.merged, result.evicted);
      } else {
        state_->mark_saved(result.handed_over);
      }
    }
  }
  warn_all(result.warnings);
  return result.bytes;
}

bool RuntimeCache::try_save(const std::filesystem::path& path) {
  try {
    save(path);
    return true;
  } catch (const std::exception& e) {
    options_.warn(std::string(e.what()) + "; continuing without saving the runtime cache");
    return false;
  }
}

bool RuntimeCache::try_save_final(const std::filesystem::path& path) {
  bool saved = true;
  try {
    save_waiting(path, std::max(options_.lock_timeout, options_.final_lock_timeout));
  } catch (const std::exception& e) {
    options_.warn(std::string(e.what()) + "; the entries not saved before are lost");
    saved = false;
  }
  push_remote();
  return saved;
}

uint64_t RuntimeCache::save_to_stream(std::ostream& out) {
  std::vector<std::string> warnings;
  std::vector<uint8_t> image;
  {
    std::lock_guard guard(state_->mutex);
    state_->drain(warnings);
    EntryMap kept = state_->entries;
    const EntryMap evicted = cache_format::evict_to_fit(kept, options_.max_bytes);
    for (const auto& [key, entry] : evicted) state_->entries.erase(key);
    state_->counters.evicted += evicted.size();
    state_->recount_bytes();
    image = cache_format::encode(kept);
  }
  warn_all(warnings);
  out.write(reinterpret_cast<const char*>(image.data()),
            static_cast<std::streamsize>(image.size()));
  out.flush();
  push_remote();
  if (!out) throw Error("cannot write the runtime cache to the stream");
  return image.size();
}

}  // namespace rtscope
