#include "remote_tier.hpp"

#include "remote_entry.hpp"
#include "rtscope/error.hpp"

namespace rtscope::cache_remote {
namespace {

constexpr std::size_t kPushBatchEntries = 256;
constexpr uint64_t kPushBatchBytes = uint64_t{4} << 20;

using cache_format::printable;

}  // namespace

PushItem push_item(const CacheKey& key, const cache_format::Entry& entry) {
  PushItem item;
  item.fingerprint_id = fingerprint_id(key.plugin_id, key.device_fingerprint);
  item.identity = key.plugin_id + '\0' + key.device_fingerprint;
  item.address = content_address(key, entry);
  item.value = encode_value(key, entry);
  return item;
}

RemoteTier::RemoteTier(RedisLocation location, uint64_t max_reply_bytes)
    : client_(std::move(location), max_reply_bytes) {}

void RemoteTier::turn_off(const std::string& cause, std::vector<std::string>& warnings) {
  on_ = false;
  warnings.push_back(cause + "; running on the local tier only");
}

FetchResult RemoteTier::fetch(const std::string& plugin_id, const std::string& device_fingerprint,
                              const std::function<std::set<std::string>()>& local_addresses) {
  FetchResult result;
  std::lock_guard lock(mutex_);
  const std::string id = fingerprint_id(plugin_id, device_fingerprint);
  if (!on_ || !fetched_.insert(id).second) return result;
  const std::set<std::string> local = local_addresses();
  std::vector<StoredValue> stored;
  try {
    if (local.empty()) {
      // Nothing of this fingerprint here: everything, in one round trip.
      stored = client_.fetch_all(id);
    } else {
      // The addresses first, then only the values missing here.
      std::vector<std::string> missing;
      for (std::string& address : client_.addresses(id)) {
        if (!local.count(address)) {
          missing.push_back(std::move(address));
        } else {
          known_.insert(std::move(address));
        }
      }
      stored = client_.fetch(id, missing);
    }
  } catch (const Error& e) {
    turn_off(e.what(), result.warnings);
    result.faults = 1;
    return result;
  }

  uint64_t gone = 0;
  std::string first_problem;
  for (const StoredValue& item : stored) {
    if (!is_hex_id(item.address)) {
      ++result.rejected;
      if (first_problem.empty()) first_problem = "an index member that is not a content address";
      continue;
    }
    if (!item.value) {
      ++gone;
      continue;
    }
    CheckedValue checked = check_value(*item.value, plugin_id, device_fingerprint, item.address);
    if (!checked.entry) {
      ++result.rejected;
      if (first_problem.empty()) first_problem = "entry " + item.address + ": " + checked.problem;
      continue;
    }
    known_.insert(item.address);
    // Hosts that wrote different payloads for one key each stored theirs;
    // the newer write wins, as in a file merge.
    auto& [key, entry] = *checked.entry;
    entry.clean = false;
    auto [it, inserted] = result.entries.try_emplace(key, entry);
    if (!inserted && cache_format::replaces(entry, it->second)) it->second = entry;
  }
  if (result.rejected > 0) {
    result.warnings.push_back("remote tier " + location().text() + ": rejected " +
                              std::to_string(result.rejected) + " invalid entries of plugin '" +
                              printable(plugin_id) + "' (" + first_problem + ")");
  }
  if (gone > 0 && !warned_gone_) {
    warned_gone_ = true;
    result.warnings.push_back("remote tier " + location().text() + ": " + std::to_string(gone) +
                              " entries of plugin '" + printable(plugin_id) +
                              "' are listed but gone from the server (evicted or expired); they "
                              "are misses");
  }
  return result;
}

PushResult RemoteTier::push(const cache_format::EntryMap& entries) {
  PushResult result;
  std::lock_guard lock(mutex_);
  if (!on_) return result;
  std::vector<PushItem> items;
  for (const auto& [key, entry] : entries) {
    if (known_.count(content_address(key, entry))) continue;
    items.push_back(push_item(key, entry));
  }
  if (items.empty()) return result;
  try {
    // Batches keep each round trip small enough for the timeout, which
    // bounds a round trip, not the whole push.
    std::size_t begin = 0;
    while (begin < items.size()) {
      std::size_t end = begin;
      uint64_t bytes = 0;
      while (end < items.size() && end - begin < kPushBatchEntries &&
             (end == begin || bytes + items[end].value.size() <= kPushBatchBytes)) {
        bytes += items[end].value.size();
        ++end;
      }
      const std::vector<PushItem> batch(std::make_move_iterator(items.begin() + begin),
                                        std::make_move_iterator(items.begin() + end));
      result.pushed += client_.push(batch);
      for (const PushItem& item : batch) known_.insert(item.address);
      begin = end;
    }
  } catch (const Error& e) {
    turn_off(e.what(), result.warnings);
    result.faults = 1;
    return result;
  }
  return result;
}

}  // namespace rtscope::cache_remote
