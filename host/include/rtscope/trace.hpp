// Process-wide recorder of timed spans, written as Chrome trace-event JSON
// (open it in https://ui.perfetto.dev or chrome://tracing).
//
// Recording is off until start(); while off a Span costs one relaxed atomic
// load, so spans can sit on hot paths such as Module::execute. Plugins add
// spans of their own (kernel compiles, capture, staging) through the
// `trace_begin`/`trace_end` slots of rts_host_api.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtscope::trace {

struct Event {
  std::string category;  // "plugin", "model", "context", "compile", "cache", "execute", ...
  std::string name;
  int64_t begin_ns = 0;  // steady clock
  int64_t end_ns = 0;
  uint32_t thread = 0;  // small per-process number; record() fills in the caller's if 0
  std::vector<std::pair<std::string, std::string>> args;
};

// Starts recording, dropping events of an earlier recording.
void start();
// Stops recording and returns the events in the order they ended.
std::vector<Event> stop();
bool enabled() noexcept;

int64_t now_ns() noexcept;
uint32_t thread_number();
// Never throws (spans end in destructors): an event that cannot be stored
// is dropped.
void record(Event event) noexcept;

// Records [construction, destruction) as one event when recording was on at
// construction.
class Span {
 public:
  Span(std::string_view category, std::string_view name);
  ~Span();  // noexcept: see record()
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  // Adds an argument shown with the event; ignored when not recording.
  Span& arg(std::string_view key, std::string_view value);

 private:
  Event* event_ = nullptr;  // null when not recording
  Event storage_;
};

// {"traceEvents": [...], "displayTimeUnit": "ms", ...}: complete ("X")
// events in microseconds from the earliest event, plus thread-name metadata.
void write_chrome_json(const std::vector<Event>& events, std::ostream& out);

}  // namespace rtscope::trace
