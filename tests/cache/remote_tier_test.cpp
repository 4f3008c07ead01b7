// The runtime cache's Redis tier against a real redis-server: fetch and push,
// SET NX content addressing, concurrent writers, validation of what comes
// back, and degradation to the local tier on every kind of fault.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <barrier>
#include <chrono>
#include <random>
#include <thread>

#include "cache/cache_test_support.hpp"
#include "cache/redis_server.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/env_guard.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using testing::LoopbackSocket;
using testing::RedisServer;
using testing::TempDir;
using testing::Warnings;

std::vector<uint8_t> random_bytes(uint32_t seed, std::size_t size) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (auto& b : out) b = static_cast<uint8_t>(1 + rng() % 255);
  return out;
}

CacheKey key_of(int i, const std::string& fingerprint = "dev-A") {
  return {"cpu", fingerprint, "kernel/" + std::to_string(i)};
}

RuntimeCache::Options remote_options(Warnings& warnings, const std::string& url) {
  RuntimeCache::Options options = testing::options_with(warnings);
  options.remote = url;
  return options;
}

// Pushes entries 0 .. count-1, `size` random bytes each, to the "fleet"
// namespace of `server`.
void push_to_fleet(const RedisServer& server, Warnings& warnings, int count, size_t size) {
  RuntimeCache producer(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < count; ++i) testing::put(producer, key_of(i), random_bytes(i, size));
  producer.push_remote();
}

// How many entries a local-only cache loads from `file`.
size_t entries_in_file(Warnings& warnings, const std::filesystem::path& file) {
  RuntimeCache local(testing::options_with(warnings));
  local.load(file);
  return local.size();
}

uint64_t command_calls(const RedisServer& server, const std::string& command) {
  const auto info = server.command({"INFO", "commandstats"});
  const std::string text(info->str, info->len);
  const std::string marker = "cmdstat_" + command + ":calls=";
  const auto at = text.find(marker);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + marker.size()));
}

std::string index_key(const std::string& ns, const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (k.ends_with(":index") && k.starts_with("rtscope:" + ns + ":{")) return k;
  }
  return "";
}

class RemoteTier : public ::testing::Test {
 protected:
  void SetUp() override {
    RTSCOPE_SKIP_WITHOUT_REDIS();
    unsetenv("RTSCOPE_REDIS_PASSWORD");
    unsetenv("RTSCOPE_REDIS_USER");
  }
};

TEST_F(RemoteTier, AnotherHostWarmStartsFromWhatOnePushed) {
  RedisServer server;
  Warnings warnings;
  RuntimeCache producer(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < 20; ++i) {
    testing::put(producer, key_of(i), random_bytes(i, 100 + 37 * i));
  }
  EXPECT_EQ(producer.push_remote(), 20u);
  EXPECT_EQ(producer.counters().remote_pushed, 20u);

  server.command({"CONFIG", "RESETSTAT"});
  TempDir dir;
  RuntimeCache consumer(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < 20; ++i) {
    const auto got = consumer.get(key_of(i));
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(*got, random_bytes(i, 100 + 37 * i)) << i;
  }
  const CacheCounters counters = consumer.counters();
  EXPECT_EQ(counters.hits, 20u);
  EXPECT_EQ(counters.misses, 0u);
  EXPECT_EQ(counters.remote_fetched, 20u);
  EXPECT_EQ(counters.remote_rejected, 0u);
  // One fingerprint with nothing local: one command, one round trip.
  EXPECT_EQ(command_calls(server, "sort"), 1u);
  EXPECT_EQ(command_calls(server, "smembers"), 0u);
  EXPECT_EQ(command_calls(server, "mget"), 0u);

  // The fetched entries reach the local file, so the next start is local.
  consumer.save(dir.path() / "local.cache");
  Warnings offline_warnings;
  EXPECT_EQ(entries_in_file(offline_warnings, dir.path() / "local.cache"), 20u);
  EXPECT_EQ(warnings.count(), 0u) << testing::join(warnings.messages());
}

TEST_F(RemoteTier, FetchesOnlyTheEntriesMissingLocally) {
  RedisServer server;
  Warnings warnings;
  push_to_fleet(server, warnings, 10, 64);

  RuntimeCache consumer(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < 6; ++i) testing::put(consumer, key_of(i), random_bytes(i, 64));
  server.command({"CONFIG", "RESETSTAT"});
  ASSERT_TRUE(consumer.get(key_of(9)));
  EXPECT_EQ(consumer.counters().remote_fetched, 4u);
  EXPECT_EQ(command_calls(server, "smembers"), 1u);
  EXPECT_EQ(command_calls(server, "mget"), 1u);
  EXPECT_EQ(command_calls(server, "sort"), 0u);
  // What the server already holds is never sent again.
  EXPECT_EQ(consumer.push_remote(), 0u);
  EXPECT_EQ(command_calls(server, "set"), 0u);
}

TEST_F(RemoteTier, SetNxKeepsEveryHostsVersionAndTheNewerWriteWins) {
  RedisServer server;
  Warnings warnings;
  RuntimeCache first(remote_options(warnings, server.url("fleet")));
  testing::put(first, key_of(1), random_bytes(1, 50));
  EXPECT_EQ(first.push_remote(), 1u);
  const auto keys = server.strings({"KEYS", "rtscope:fleet:*:e:*"});
  ASSERT_EQ(keys.size(), 1u);
  const auto before = server.command({"GET", keys[0]});
  const std::string first_value(before->str, before->len);

  RuntimeCache second(remote_options(warnings, server.url("fleet")));
  testing::put(second, key_of(1), random_bytes(2, 50));  // another payload, written later
  EXPECT_EQ(second.push_remote(), 1u);
  RuntimeCache same(remote_options(warnings, server.url("fleet")));
  testing::put(same, key_of(1), random_bytes(1, 50));  // the first payload again
  EXPECT_EQ(same.push_remote(), 0u) << "the same content has the same key";

  const auto index = index_key("fleet", server.strings({"KEYS", "*"}));
  EXPECT_EQ(server.command({"SCARD", index})->integer, 2);
  const auto after = server.command({"GET", keys[0]});
  EXPECT_EQ(std::string(after->str, after->len), first_value) << "never overwritten";

  RuntimeCache reader(remote_options(warnings, server.url("fleet")));
  EXPECT_EQ(reader.get(key_of(1)), random_bytes(2, 50));
  EXPECT_EQ(reader.counters().remote_fetched, 1u) << "one entry taken in: the newer version";
}

TEST_F(RemoteTier, ALargePushGoesInBatchesAndLosesNothing) {
  RedisServer server;
  Warnings warnings;
  RuntimeCache producer(remote_options(warnings, server.url("fleet")));
  constexpr int kEntries = 600;  // over two batches of 256
  for (int i = 0; i < kEntries; ++i) testing::put(producer, key_of(i), random_bytes(i, 24));
  EXPECT_EQ(producer.push_remote(), uint64_t{kEntries});
  RuntimeCache consumer(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < kEntries; ++i) ASSERT_EQ(consumer.get(key_of(i)), random_bytes(i, 24)) << i;
  EXPECT_EQ(consumer.counters().remote_fetched, uint64_t{kEntries});
  EXPECT_EQ(warnings.count(), 0u) << testing::join(warnings.messages());
}

TEST_F(RemoteTier, SixteenConcurrentWritersLoseNoEntry) {
  RedisServer server;
  constexpr int kWriters = 16;
  constexpr int kEach = 8;
  Warnings warnings;
  std::barrier start(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      RuntimeCache cache(remote_options(warnings, server.url("fleet")));
      for (int i = 0; i < kEach; ++i) {
        testing::put(cache, key_of(w * kEach + i), random_bytes(w * kEach + i, 300));
      }
      testing::put(cache, key_of(-1), random_bytes(999, 300));  // one entry all share
      start.arrive_and_wait();
      cache.push_remote();
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(warnings.count(), 0u) << testing::join(warnings.messages());

  RuntimeCache reader(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < kWriters * kEach; ++i) {
    const auto got = reader.get(key_of(i));
    ASSERT_TRUE(got) << "entry " << i << " was lost";
    EXPECT_EQ(*got, random_bytes(i, 300));
  }
  EXPECT_EQ(reader.get(key_of(-1)), random_bytes(999, 300));
  EXPECT_EQ(reader.counters().remote_fetched, uint64_t{kWriters * kEach + 1});
}

TEST_F(RemoteTier, UnreachableServerWarnsOnceAndTheRunGoesOnLocally) {
  Warnings warnings;
  TempDir dir;
  const uint16_t port = testing::unused_loopback_port();
  RuntimeCache cache(
      remote_options(warnings, "redis://127.0.0.1:" + std::to_string(port) + "/fleet"));
  testing::put(cache, key_of(1), random_bytes(1, 40));
  EXPECT_FALSE(cache.get(key_of(2)));
  EXPECT_FALSE(cache.get(key_of(3, "dev-B")));
  EXPECT_EQ(cache.get(key_of(1)), random_bytes(1, 40));
  EXPECT_GT(cache.save(dir.path() / "local.cache"), 0u);
  EXPECT_EQ(cache.push_remote(), 0u);

  ASSERT_EQ(warnings.count(), 1u) << testing::join(warnings.messages());
  EXPECT_THAT(warnings.messages()[0], HasSubstr("cannot connect"));
  EXPECT_THAT(warnings.messages()[0], HasSubstr("running on the local tier only"));
  EXPECT_EQ(cache.counters().remote_faults, 1u);
}

TEST_F(RemoteTier, ServerThatNeverAnswersCostsAtMostTheTimeout) {
  LoopbackSocket silent(/*listen_on=*/true);  // accepts, never answers
  Warnings warnings;
  RuntimeCache cache(remote_options(
      warnings, "redis://127.0.0.1:" + std::to_string(silent.port()) + "/fleet?timeout_ms=100"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cache.get(key_of(1)));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(90));
  EXPECT_LT(waited, std::chrono::milliseconds(1500)) << "bounded by timeout_ms, not by the server";
  // Later calls do not wait again.
  const auto again = std::chrono::steady_clock::now();
  EXPECT_FALSE(cache.get(key_of(2, "dev-B")));
  cache.push_remote();
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(50));
  ASSERT_EQ(warnings.count(), 1u) << testing::join(warnings.messages());
  EXPECT_THAT(warnings.messages()[0], HasSubstr("no answer within 100 ms"));
}

TEST_F(RemoteTier, WrongOrMissingPasswordWarnsOnceAndTheRightOneWorks) {
  RedisServer server({"--requirepass", "s3cret-pw"});
  {
    Warnings warnings;
    RuntimeCache cache(remote_options(warnings, server.url("fleet")));
    EXPECT_FALSE(cache.get(key_of(1)));
    ASSERT_EQ(warnings.count(), 1u);
    EXPECT_THAT(warnings.messages()[0], HasSubstr("NOAUTH"));
    EXPECT_THAT(warnings.messages()[0], HasSubstr("RTSCOPE_REDIS_PASSWORD"));
  }
  {
    testing::EnvGuard password("RTSCOPE_REDIS_PASSWORD", "wrong");
    Warnings warnings;
    RuntimeCache cache(remote_options(warnings, server.url("fleet")));
    testing::put(cache, key_of(1), random_bytes(1, 40));
    EXPECT_EQ(cache.push_remote(), 0u);
    EXPECT_FALSE(cache.get(key_of(2)));
    ASSERT_EQ(warnings.count(), 1u);
    EXPECT_THAT(warnings.messages()[0], HasSubstr("AUTH with $RTSCOPE_REDIS_PASSWORD failed"));
    EXPECT_EQ(warnings.messages()[0].find("wrong"), std::string::npos) << "password echoed";
  }
  testing::EnvGuard password("RTSCOPE_REDIS_PASSWORD", "s3cret-pw");
  Warnings warnings;
  RuntimeCache writer(remote_options(warnings, server.url("fleet")));
  testing::put(writer, key_of(1), random_bytes(1, 40));
  EXPECT_EQ(writer.push_remote(), 1u);
  RuntimeCache reader(remote_options(warnings, server.url("fleet")));
  EXPECT_EQ(reader.get(key_of(1)), random_bytes(1, 40));
  EXPECT_EQ(warnings.count(), 0u) << testing::join(warnings.messages());
}

TEST_F(RemoteTier, FullServerWarnsOnceAndTheFileIsStillSaved) {
  RedisServer server({"--maxmemory", "1", "--maxmemory-policy", "noeviction"});
  Warnings warnings;
  TempDir dir;
  RuntimeCache cache(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < 5; ++i) testing::put(cache, key_of(i), random_bytes(i, 1000));
  EXPECT_GT(cache.save(dir.path() / "local.cache"), 0u);
  testing::put(cache, key_of(9), random_bytes(9, 1000));
  EXPECT_GT(cache.save(dir.path() / "local.cache"), 0u);
  ASSERT_EQ(warnings.count(), 1u) << testing::join(warnings.messages());
  EXPECT_THAT(warnings.messages()[0], HasSubstr("OOM"));
  EXPECT_EQ(cache.counters().remote_faults, 1u);

  EXPECT_EQ(entries_in_file(warnings, dir.path() / "local.cache"), 6u);
}

TEST_F(RemoteTier, EvictedEntriesAreMissesWithOneWarning) {
  RedisServer server;
  Warnings warnings;
  push_to_fleet(server, warnings, 4, 80);
  const auto keys = server.strings({"KEYS", "rtscope:fleet:*:e:*"});
  ASSERT_EQ(keys.size(), 4u);
  server.command({"DEL", keys[0], keys[1]});  // as an evicting server would

  RuntimeCache consumer(remote_options(warnings, server.url("fleet")));
  int hits = 0;
  for (int i = 0; i < 4; ++i) hits += consumer.get(key_of(i)) ? 1 : 0;
  EXPECT_EQ(hits, 2);
  EXPECT_EQ(consumer.counters().misses, 2u);
  ASSERT_EQ(warnings.count(), 1u) << testing::join(warnings.messages());
  EXPECT_THAT(warnings.messages()[0], HasSubstr("gone from the server"));
  EXPECT_EQ(consumer.counters().remote_faults, 0u) << "an evicted entry is a miss, not a fault";
}

TEST_F(RemoteTier, CorruptAndForeignValuesAreRejectedCountedAndNeverReturned) {
  RedisServer server;
  Warnings producer_warnings;
  RuntimeCache producer(remote_options(producer_warnings, server.url("fleet")));
  // Push one entry at a time to learn each one's key.
  std::vector<std::string> entry_keys;
  auto push_one = [&](const CacheKey& key, const std::vector<uint8_t>& value) {
    const auto before = server.strings({"KEYS", "rtscope:fleet:*:e:*"});
    testing::put(producer, key, value);
    ASSERT_EQ(producer.push_remote(), 1u);
    for (const auto& k : server.strings({"KEYS", "rtscope:fleet:*:e:*"})) {
      if (std::find(before.begin(), before.end(), k) == before.end()) entry_keys.push_back(k);
    }
  };
  for (int i = 0; i < 5; ++i) push_one(key_of(i), random_bytes(i, 200));
  push_one(key_of(0, "dev-B"), random_bytes(77, 200));
  ASSERT_EQ(entry_keys.size(), 6u);
  auto value_of = [&](const std::string& key) {
    const auto reply = server.command({"GET", key});
    return std::string(reply->str, reply->len);
  };
  const std::string random_junk(reinterpret_cast<const char*>(random_bytes(5, 300).data()), 300);
  std::string truncated = value_of(entry_keys[1]);
  truncated.resize(truncated.size() - 10);
  std::string flipped = value_of(entry_keys[4]);
  flipped[flipped.size() - 40] ^= 0x5a;  // a payload byte: the checksum fails

  server.command({"SET", entry_keys[0], random_junk});
  server.command({"SET", entry_keys[1], truncated});
  server.command({"SET", entry_keys[2], value_of(entry_keys[5])});  // another fingerprint's
  server.command({"SET", entry_keys[3], value_of(entry_keys[4])});  // not its own address
  server.command({"SET", entry_keys[4], flipped});
  const std::string index = entry_keys[0].substr(0, entry_keys[0].find(":e:")) + ":index";
  server.command({"SADD", index, "not-an-address"});

  Warnings warnings;
  RuntimeCache consumer(remote_options(warnings, server.url("fleet")));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(consumer.get(key_of(i))) << i;
  const CacheCounters counters = consumer.counters();
  EXPECT_EQ(counters.remote_rejected, 6u);
  EXPECT_EQ(counters.rejected, 6u);
  EXPECT_EQ(counters.remote_fetched, 0u);
  EXPECT_EQ(counters.remote_faults, 0u);
  ASSERT_EQ(warnings.count(), 1u) << testing::join(warnings.messages());
  EXPECT_THAT(warnings.messages()[0], HasSubstr("rejected 6 invalid entries of plugin 'cpu'"));
  // The foreign entry is still served to its own fingerprint.
  EXPECT_EQ(consumer.get(key_of(0, "dev-B")), random_bytes(77, 200));
}

TEST_F(RemoteTier, KilledServerLeavesTheRunOnTheLocalTier) {
  auto server = std::make_unique<RedisServer>();
  Warnings warnings;
  TempDir dir;
  RuntimeCache cache(remote_options(warnings, server->url("fleet")));
  testing::put(cache, key_of(1), random_bytes(1, 5000));
  cache.save(dir.path() / "local.cache");
  EXPECT_EQ(cache.counters().remote_pushed, 1u);
  server.reset();  // the server dies; the cache's connection stays open on its side

  for (int i = 2; i < 40; ++i) testing::put(cache, key_of(i), random_bytes(i, 5000));
  EXPECT_GT(cache.save(dir.path() / "local.cache"), 0u);  // no SIGPIPE, no throw
  EXPECT_FALSE(cache.get(key_of(1, "dev-B")));
  EXPECT_EQ(cache.get(key_of(39)), random_bytes(39, 5000));
  ASSERT_EQ(warnings.count(), 1u) << testing::join(warnings.messages());
  EXPECT_THAT(warnings.messages()[0], HasSubstr("running on the local tier only"));
  EXPECT_EQ(entries_in_file(warnings, dir.path() / "local.cache"), 39u);
}

TEST_F(RemoteTier, NamespacesKeepDeploymentsApart) {
  RedisServer server;
  Warnings warnings;
  RuntimeCache prod(remote_options(warnings, server.url("prod")));
  testing::put(prod, key_of(1), random_bytes(1, 40));
  prod.push_remote();
  RuntimeCache staging(remote_options(warnings, server.url("staging")));
  EXPECT_FALSE(staging.get(key_of(1)));
  RuntimeCache prod_reader(remote_options(warnings, server.url("prod")));
  EXPECT_TRUE(prod_reader.get(key_of(1)));
  EXPECT_EQ(warnings.count(), 0u);
}

}  // namespace
}  // namespace rtscope
