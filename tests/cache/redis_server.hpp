// A private redis-server for tests: started on a free loopback port in a
// temporary folder with no persistence, stopped (and the folder removed) by
// the destructor. Tests skip only when the redis-server binary is missing
// (scripts/install-deps.sh installs it, so CI runs them).
//
//   RTSCOPE_SKIP_WITHOUT_REDIS();
//   RedisServer server;                       // or RedisServer({"--requirepass", "pw"})
//   options.remote = server.url("fleet");
//   server.command({"SET", "k", "v"});        // plant or inspect values
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rtscope::testing {

inline std::optional<std::filesystem::path> redis_server_binary() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::filesystem::path candidate =
        std::filesystem::path(dirs.substr(start, end - start)) / "redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

#define RTSCOPE_SKIP_WITHOUT_REDIS()                                                     \
  do {                                                                                   \
    if (!::rtscope::testing::redis_server_binary()) {                                    \
      GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh installs " \
                      "it); skipping the remote tier test";                              \
    }                                                                                    \
  } while (0)

// A loopback socket bound to a free port; listening when asked (a server that
// accepts connections and never answers).
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listen_on = false) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot bind a loopback socket");
    }
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    if (listen_on && listen(fd_, 16) != 0) throw std::runtime_error("cannot listen");
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A port nothing listens on (bound to no socket once this returns).
inline uint16_t unused_loopback_port() { return LoopbackSocket().port(); }

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {}) {
    const auto binary = redis_server_binary();
    if (!binary) throw std::runtime_error("redis-server is not installed");
    dir_ = std::filesystem::temp_directory_path() /
           ("rtscope_redis_" + std::to_string(getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::create_directories(dir_);
    // The free port may be taken between the probe and the server's bind:
    // try a few.
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = unused_loopback_port();
      start(*binary, extra_args);
      if (!wait_ready()) stop(SIGKILL);
    }
    if (pid_ <= 0) throw std::runtime_error("redis-server did not start (log in " + dir_.string());
  }
  ~RedisServer() {
    stop(SIGTERM);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url(const std::string& name_space, const std::string& query = "") const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + name_space + query;
  }

  // Ends the server at once, as a crash would.
  void kill_now() { stop(SIGKILL); }

  // Runs one command (binary-safe arguments); `password` for AUTH first.
  ReplyPtr command(const std::vector<std::string>& args, const std::string& password = "") const {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, {2, 0});
    if (c == nullptr || c->err) {
      if (c) redisFree(c);
      throw std::runtime_error("cannot connect to the test redis-server");
    }
    if (!password.empty()) {
      freeReplyObject(redisCommand(c, "AUTH %s", password.c_str()));
    }
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    redisFree(c);
    if (reply == nullptr) throw std::runtime_error("no reply from the test redis-server");
    return ReplyPtr(reply);
  }

  // The elements of an array reply as strings.
  std::vector<std::string> strings(const std::vector<std::string>& args) const {
    const ReplyPtr reply = command(args);
    std::vector<std::string> out;
    for (size_t i = 0; i < reply->elements; ++i) {
      out.emplace_back(reply->element[i]->str ? reply->element[i]->str : "",
                       reply->element[i]->len);
    }
    return out;
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }

  void start(const std::filesystem::path& binary, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {binary.string(),
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_.string(),
                                     "--logfile",
                                     (dir_ / "redis.log").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      // The server must not hold the caller's stdout or stderr: a pipe
      // reading them would wait for the server too.
      const int null = open("/dev/null", O_RDWR);
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  bool wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      // Only this server's own log says it is listening: another test's
      // server may hold the same port (the probe and the bind race across
      // processes), and a connection would then reach that one, its keys
      // and its kill included. Ours then exits, and the caller retries.
      if (!logged_ready()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, {0, 200000});
      if (c != nullptr && c->err == 0) {
        redisFree(c);
        return true;
      }
      if (c) redisFree(c);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  bool logged_ready() const {
    std::ifstream log(dir_ / "redis.log");
    std::string line;
    while (std::getline(log, line)) {
      if (line.find("Ready to accept connections") != std::string::npos) return true;
    }
    return false;
  }

  void stop(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::filesystem::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace rtscope::testing
