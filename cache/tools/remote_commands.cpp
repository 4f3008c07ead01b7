#include "remote_commands.hpp"

#include <iostream>
#include <map>
#include <vector>

#include "cache_path_guard.hpp"
#include "redis_client.hpp"
#include "remote_entry.hpp"
#include "remote_tier.hpp"

namespace rtscope::cache_tool {
namespace {

namespace remote = rtscope::cache_remote;

// Entries per round trip of a push: each round trip has the URL's timeout.
constexpr std::size_t kPushBatch = 256;

remote::RedisClient connect(const std::string& url, uint64_t max_bytes) {
  const uint64_t limit = cache_file::read_limit(max_bytes);
  return remote::RedisClient(remote::parse_redis_url(url),
                             limit > UINT64_MAX / 2 ? UINT64_MAX : limit * 2);
}

std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text.substr(0, 96)) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
  if (text.size() > 96) out += "...";
  return out;
}

// What the remote tier holds for one fingerprint.
struct Fingerprint {
  std::string plugin_id;
  std::string device_fingerprint;
  cache_format::EntryMap entries;  // valid ones
  uint64_t invalid = 0;
  uint64_t gone = 0;  // listed, but the key is gone (evicted)
};

// Every fingerprint of the namespace with its validated entries; problems go
// to stderr.
std::vector<Fingerprint> read_remote(remote::RedisClient& client) {
  std::vector<Fingerprint> result;
  for (const auto& [id, identity] : client.fingerprints()) {
    const std::size_t nul = identity.find('\0');
    Fingerprint& fp = result.emplace_back();
    if (nul == std::string::npos) {
      std::cerr << client.location().text() << ": fingerprint " << printable(id)
                << " has a malformed identity; skipped\n";
      result.pop_back();
      continue;
    }
    fp.plugin_id = identity.substr(0, nul);
    fp.device_fingerprint = identity.substr(nul + 1);
    if (remote::fingerprint_id(fp.plugin_id, fp.device_fingerprint) != id) {
      std::cerr << client.location().text() << ": fingerprint " << printable(id)
                << " does not match its identity; skipped\n";
      result.pop_back();
      continue;
    }
    for (const remote::StoredValue& stored : client.fetch_all(id)) {
      if (!stored.value) {
        ++fp.gone;
        continue;
      }
      remote::CheckedValue checked =
          remote::check_value(*stored.value, fp.plugin_id, fp.device_fingerprint, stored.address);
      if (!checked.entry) {
        ++fp.invalid;
        std::cerr << client.location().text() << ": entry " << printable(stored.address)
                  << " of plugin '" << printable(fp.plugin_id) << "': " << checked.problem << '\n';
        continue;
      }
      fp.entries.insert(std::move(*checked.entry));
    }
  }
  return result;
}

}  // namespace

int remote_push(const cache_format::Decoded& file, const std::string& file_name,
                const std::string& url, uint64_t max_bytes) {
  remote::RedisClient client = connect(url, max_bytes);
  std::vector<remote::PushItem> batch;
  uint64_t stored = 0;
  for (auto it = file.entries.begin(); it != file.entries.end();) {
    batch.push_back(remote::push_item(it->first, it->second));
    ++it;
    if (batch.size() == kPushBatch || it == file.entries.end()) {
      stored += client.push(batch);
      batch.clear();
    }
  }
  std::cout << "pushed " << file.entries.size() << " entries of " << file_name << " to "
            << client.location().text() << ": " << stored << " new, "
            << file.entries.size() - stored << " already there\n";
  return 0;
}

int remote_pull(const std::string& url, const std::string& file_name, uint64_t max_bytes,
                const std::function<uint64_t(const cache_format::EntryMap&)>& merge_into_file) {
  remote::RedisClient client = connect(url, max_bytes);
  cache_format::EntryMap pulled;
  uint64_t invalid = 0;
  for (Fingerprint& fp : read_remote(client)) {
    invalid += fp.invalid;
    cache_format::merge_into(pulled, fp.entries);
  }
  const uint64_t held = merge_into_file(pulled);
  std::cout << "pulled " << pulled.size() << " entries from " << client.location().text()
            << " into " << file_name << " (" << held << " entries now)";
  if (invalid > 0) std::cout << "; skipped " << invalid << " invalid entries";
  std::cout << '\n';
  return 0;
}

int remote_info(const std::string& url, uint64_t max_bytes) {
  remote::RedisClient client = connect(url, max_bytes);
  const std::vector<Fingerprint> fingerprints = read_remote(client);
  uint64_t entries = 0, payload = 0, invalid = 0, gone = 0;
  for (const Fingerprint& fp : fingerprints) {
    entries += fp.entries.size();
    invalid += fp.invalid;
    gone += fp.gone;
    for (const auto& [key, entry] : fp.entries) payload += entry.payload->size();
  }
  std::cout << "remote: " << client.location().text() << '\n'
            << "fingerprints: " << fingerprints.size() << '\n'
            << "entries: " << entries << '\n'
            << "payload bytes: " << payload << '\n'
            << "invalid entries: " << invalid << '\n'
            << "evicted entries: " << gone << '\n';
  for (const Fingerprint& fp : fingerprints) {
    uint64_t bytes = 0;
    for (const auto& [key, entry] : fp.entries) bytes += entry.payload->size();
    std::cout << "  plugin '" << printable(fp.plugin_id) << "' fingerprint '"
              << printable(fp.device_fingerprint) << "': " << fp.entries.size() << " entries, "
              << bytes << " bytes\n";
  }
  return 0;
}

}  // namespace rtscope::cache_tool
