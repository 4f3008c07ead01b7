#include "rtscope/trace.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>

namespace rtscope::trace {
namespace {

std::atomic<bool> recording{false};

struct Store {
  std::mutex mutex;
  std::vector<Event> events;
};

Store& store() {
  static Store instance;
  return instance;
}

std::atomic<uint32_t> next_thread{1};
std::atomic<uint32_t> main_thread{0};  // the thread that called start()

}  // namespace

void start() {
  Store& s = store();
  std::lock_guard lock(s.mutex);
  s.events.clear();
  main_thread.store(thread_number(), std::memory_order_relaxed);
  recording.store(true, std::memory_order_release);
}

std::vector<Event> stop() {
  recording.store(false, std::memory_order_release);
  Store& s = store();
  std::lock_guard lock(s.mutex);
  return std::exchange(s.events, {});
}

bool enabled() noexcept { return recording.load(std::memory_order_relaxed); }

int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint32_t thread_number() {
  thread_local const uint32_t number = next_thread.fetch_add(1, std::memory_order_relaxed);
  return number;
}

void record(Event event) noexcept {
  if (!enabled()) return;
  try {
    if (event.thread == 0) event.thread = thread_number();
    Store& s = store();
    std::lock_guard lock(s.mutex);
    s.events.push_back(std::move(event));
  } catch (...) {
    // Out of memory: the trace loses this event, the program goes on.
  }
}

Span::Span(std::string_view category, std::string_view name) {
  if (!enabled()) return;
  storage_.category = category;
  storage_.name = name;
  storage_.begin_ns = now_ns();
  event_ = &storage_;
}

Span::~Span() {
  if (!event_) return;
  event_->end_ns = now_ns();
  record(std::move(*event_));
}

Span& Span::arg(std::string_view key, std::string_view value) {
  if (event_) event_->args.emplace_back(key, value);
  return *this;
}

void write_chrome_json(const std::vector<Event>& events, std::ostream& out) {
  int64_t origin = events.empty() ? 0 : events.front().begin_ns;
  for (const Event& e : events) origin = std::min(origin, e.begin_ns);
  const int pid = static_cast<int>(getpid());

  nlohmann::json list = nlohmann::json::array();
  std::vector<uint32_t> threads;
  for (const Event& e : events) {
    nlohmann::json item = {
        {"name", e.name},
        {"cat", e.category},
        {"ph", "X"},
        {"ts", static_cast<double>(e.begin_ns - origin) / 1000.0},
        {"dur", static_cast<double>(std::max<int64_t>(e.end_ns - e.begin_ns, 0)) / 1000.0},
        {"pid", pid},
        {"tid", e.thread}};
    if (!e.args.empty()) {
      nlohmann::json args = nlohmann::json::object();
      for (const auto& [key, value] : e.args) args[key] = value;
      item["args"] = std::move(args);
    }
    list.push_back(std::move(item));
    if (std::find(threads.begin(), threads.end(), e.thread) == threads.end()) {
      threads.push_back(e.thread);
    }
  }
  list.push_back(
      {{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"args", {{"name", "rtscope"}}}});
  for (uint32_t thread : threads) {
    const std::string name = thread == main_thread.load(std::memory_order_relaxed)
                                 ? "main"
                                 : "worker " + std::to_string(thread);
    list.push_back({{"name", "thread_name"},
                    {"ph", "M"},
                    {"pid", pid},
                    {"tid", thread},
                    {"args", {{"name", name}}}});
  }
  const nlohmann::json document = {{"traceEvents", std::move(list)}, {"displayTimeUnit", "ms"}};
  // Names and paths come from files and plugins: invalid UTF-8 is replaced,
  // never an exception.
  out << document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace rtscope::trace
