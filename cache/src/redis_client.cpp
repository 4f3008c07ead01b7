#include "redis_client.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>

#include "rtscope/error.hpp"

namespace rtscope::cache_remote {
namespace {

using Clock = std::chrono::steady_clock;

timeval to_timeval(std::chrono::microseconds duration) {
  if (duration.count() < 1) duration = std::chrono::microseconds(1);
  return {static_cast<time_t>(duration.count() / 1000000),
          static_cast<suseconds_t>(duration.count() % 1000000)};
}

// A server's error text or other bytes from the network, bounded and made
// printable for a message.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 160)) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
  if (text.size() > 160) out += "...";
  return out;
}

// Writing to a connection the server has closed raises SIGPIPE, whose
// default action ends the process; a killed cache server must not end a
// run. The signal is blocked in this thread while writing, and one it
// raised is consumed before the old mask comes back (as libcurl does).
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeBlock() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
  bool blocked_ = false;
};

}  // namespace

struct RedisClient::Connection {
  redisContext* context = nullptr;
  explicit Connection(redisContext* c) : context(c) {}
  ~Connection() { redisFree(context); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

struct RedisClient::Reply {
  redisReply* reply = nullptr;
  explicit Reply(redisReply* r) : reply(r) {}
  ~Reply() { freeReplyObject(reply); }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
};

RedisClient::RedisClient(RedisLocation location, uint64_t max_reply_bytes)
    : location_(std::move(location)), max_reply_bytes_(max_reply_bytes) {}

RedisClient::~RedisClient() = default;

void RedisClient::fail(const std::string& cause) {
  connection_.reset();
  std::string message = "remote tier " + location_.text() + ": " + doing_ + cause;
  doing_ = "";
  if (cause.find("NOAUTH") != std::string::npos) {
    message += std::string(" (set $") + kPasswordVariable + ")";
  }
  throw Error(message);
}

std::string RedisClient::index_key(const std::string& fingerprint_id) const {
  return "rtscope:" + location_.name_space + ":{" + fingerprint_id + "}:index";
}

std::string RedisClient::entry_key(const std::string& fingerprint_id,
                                   const std::string& address) const {
  return "rtscope:" + location_.name_space + ":{" + fingerprint_id + "}:e:" + address;
}

std::string RedisClient::fingerprints_key() const {
  return "rtscope:" + location_.name_space + ":fingerprints";
}

void RedisClient::connect() {
  const timeval tv = to_timeval(location_.timeout);
  redisContext* context = redisConnectWithTimeout(location_.host.c_str(), location_.port, tv);
  if (context == nullptr) fail("cannot allocate a connection");
  connection_ = std::make_unique<Connection>(context);
  if (context->err != 0) fail(std::string("cannot connect: ") + context->errstr);
  const char* password = std::getenv(kPasswordVariable);
  if (password != nullptr && *password != '\0') {
    std::vector<std::string> auth = {"AUTH"};
    if (const char* user = std::getenv(kUserVariable); user != nullptr && *user != '\0') {
      auth.emplace_back(user);
    }
    auth.emplace_back(password);
    doing_ = "AUTH with $RTSCOPE_REDIS_PASSWORD failed: ";
    round_trip({auth});
    doing_ = "";
  }
}

std::vector<std::shared_ptr<RedisClient::Reply>> RedisClient::round_trip(
    const std::vector<std::vector<std::string>>& commands) {
  if (!connection_) connect();
  redisContext* c = connection_->context;
  const auto deadline = Clock::now() + location_.timeout;
  const std::string timeout_text =
      "no answer within " + std::to_string(location_.timeout.count()) + " ms";

  // Waits until the socket is ready for `events`, at most until the deadline.
  auto wait_for = [&](short events) {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) fail(timeout_text);
      pollfd fd{c->fd, events, 0};
      const int ready = poll(&fd, 1, static_cast<int>(left.count()));
      if (ready > 0) return;
      if (ready == 0) fail(timeout_text);
      if (errno != EINTR) fail(std::string("poll failed: ") + std::strerror(errno));
    }
  };

  for (const auto& command : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
        REDIS_OK) {
      fail(std::string("cannot queue a command: ") + c->errstr);
    }
  }
  {
    SigpipeBlock no_sigpipe;
    int done = 0;
    while (done == 0) {
      wait_for(POLLOUT);
      // A blocking write waits at most the time left (SO_SNDTIMEO).
      redisSetTimeout(c, to_timeval(std::chrono::duration_cast<std::chrono::microseconds>(
                             deadline - Clock::now())));
      if (redisBufferWrite(c, &done) != REDIS_OK) {
        fail(std::string("cannot send: ") + c->errstr);
      }
    }
  }

  std::vector<std::shared_ptr<Reply>> replies;
  uint64_t received = 0;
  while (replies.size() < commands.size()) {
    void* raw = nullptr;
    if (redisReaderGetReply(c->reader, &raw) != REDIS_OK) {
      fail("malformed reply (" + printable(c->reader->errstr) + ")");
    }
    if (raw != nullptr) {
      auto reply = std::make_shared<Reply>(static_cast<redisReply*>(raw));
      if (reply->reply->type == REDIS_REPLY_ERROR) {
        fail("the server answered: " +
             printable(std::string_view(reply->reply->str, reply->reply->len)));
      }
      replies.push_back(std::move(reply));
      continue;
    }
    wait_for(POLLIN);
    char buffer[1 << 16];
    const ssize_t got = recv(c->fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got == 0) fail("the server closed the connection");
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      fail(std::string("cannot receive: ") + std::strerror(errno));
    }
    received += static_cast<uint64_t>(got);
    if (received > max_reply_bytes_) {
      fail("a reply over " + std::to_string(max_reply_bytes_) + " bytes");
    }
    if (redisReaderFeed(c->reader, buffer, static_cast<size_t>(got)) != REDIS_OK) {
      fail("malformed reply (" + printable(c->reader->errstr) + ")");
    }
  }
  return replies;
}

namespace {

bool is_string(const redisReply* r) { return r->type == REDIS_REPLY_STRING; }

}  // namespace

std::vector<StoredValue> RedisClient::fetch_all(const std::string& fingerprint_id) {
  const auto replies = round_trip({{"SORT", index_key(fingerprint_id), "BY", "nosort", "GET", "#",
                                    "GET", entry_key(fingerprint_id, "*")}});
  const redisReply* r = replies.front()->reply;
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
    fail("unexpected reply to SORT (not a list of address, value pairs)");
  }
  std::vector<StoredValue> out;
  out.reserve(r->elements / 2);
  for (size_t i = 0; i < r->elements; i += 2) {
    const redisReply* address = r->element[i];
    const redisReply* value = r->element[i + 1];
    if (!is_string(address) || (!is_string(value) && value->type != REDIS_REPLY_NIL)) {
      fail("unexpected element in the reply to SORT");
    }
    StoredValue& stored = out.emplace_back();
    stored.address.assign(address->str, address->len);
    if (is_string(value)) stored.value.emplace(value->str, value->len);
  }
  return out;
}

std::vector<std::string> RedisClient::addresses(const std::string& fingerprint_id) {
  const auto replies = round_trip({{"SMEMBERS", index_key(fingerprint_id)}});
  const redisReply* r = replies.front()->reply;
  if (r->type != REDIS_REPLY_ARRAY) fail("unexpected reply to SMEMBERS (not a list)");
  std::vector<std::string> out;
  out.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) {
    if (!is_string(r->element[i])) fail("unexpected element in the reply to SMEMBERS");
    out.emplace_back(r->element[i]->str, r->element[i]->len);
  }
  return out;
}

std::vector<StoredValue> RedisClient::fetch(const std::string& fingerprint_id,
                                            const std::vector<std::string>& addresses) {
  if (addresses.empty()) return {};
  std::vector<std::string> mget = {"MGET"};
  for (const std::string& address : addresses) mget.push_back(entry_key(fingerprint_id, address));
  const auto replies = round_trip({mget});
  const redisReply* r = replies.front()->reply;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != addresses.size()) {
    fail("unexpected reply to MGET (not one value per key)");
  }
  std::vector<StoredValue> out;
  out.reserve(addresses.size());
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* value = r->element[i];
    if (!is_string(value) && value->type != REDIS_REPLY_NIL) {
      fail("unexpected element in the reply to MGET");
    }
    StoredValue& stored = out.emplace_back();
    stored.address = addresses[i];
    if (is_string(value)) stored.value.emplace(value->str, value->len);
  }
  return out;
}

uint64_t RedisClient::push(const std::vector<PushItem>& items) {
  if (items.empty()) return 0;
  std::vector<std::vector<std::string>> commands;
  std::set<std::string> listed;
  for (const PushItem& item : items) {
    // The value first, then the index entry: a reader that sees the
    // address listed finds its value (unless the server evicted it since).
    commands.push_back({"SET", entry_key(item.fingerprint_id, item.address), item.value, "NX"});
    commands.push_back({"SADD", index_key(item.fingerprint_id), item.address});
    if (listed.insert(item.fingerprint_id).second) {
      commands.push_back({"HSETNX", fingerprints_key(), item.fingerprint_id, item.identity});
    }
  }
  const auto replies = round_trip(commands);
  uint64_t stored = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    if (commands[i][0] != "SET") continue;
    const redisReply* r = replies[i]->reply;
    if (r->type == REDIS_REPLY_STATUS) {
      ++stored;
    } else if (r->type != REDIS_REPLY_NIL) {
      fail("unexpected reply to SET NX");
    }
  }
  return stored;
}

std::vector<std::pair<std::string, std::string>> RedisClient::fingerprints() {
  const auto replies = round_trip({{"HGETALL", fingerprints_key()}});
  const redisReply* r = replies.front()->reply;
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
    fail("unexpected reply to HGETALL (not a list of field, value pairs)");
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < r->elements; i += 2) {
    if (!is_string(r->element[i]) || !is_string(r->element[i + 1])) {
      fail("unexpected element in the reply to HGETALL");
    }
    out.emplace_back(std::string(r->element[i]->str, r->element[i]->len),
                     std::string(r->element[i + 1]->str, r->element[i + 1]->len));
  }
  return out;
}

}  // namespace rtscope::cache_remote
