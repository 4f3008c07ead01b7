// A span in the host's trace (rtscope-run --trace) through the
// trace_begin/trace_end slots of rts_host_api. When the host is not
// recording, or predates ABI 1.1, a span costs one indirect call and builds
// no name.
#pragma once

#include <string>
#include <utility>

#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

class TraceSpan {
 public:
  // `category` must outlive the span (a literal); `make_name` is called
  // only when the host records, so names can be built without cost.
  template <typename MakeName>
  TraceSpan(const rts_host_api* host, const char* category, MakeName&& make_name)
      : host_(host), category_(category) {
    if (host_ == nullptr || !RTS_HAS_FIELD(host_, rts_host_api, trace_end) ||
        host_->trace_begin == nullptr || host_->trace_end == nullptr) {
      return;
    }
    begin_ = host_->trace_begin(host_->user);
    if (begin_ != 0) name_ = std::forward<MakeName>(make_name)();
  }
  ~TraceSpan() {
    if (begin_ != 0) host_->trace_end(host_->user, begin_, category_, name_.c_str());
  }
  TraceSpan(const TraceSpan&) = delete;
  TraceSpan& operator=(const TraceSpan&) = delete;

 private:
  const rts_host_api* host_;
  const char* category_;
  uint64_t begin_ = 0;
  std::string name_;
};

}  // namespace rtscope::kit
