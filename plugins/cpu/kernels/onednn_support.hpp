// What the plugin's oneDNN primitives share (kernels/onednn_conv.cpp,
// kernels/onednn_pool.cpp, kernels/packed_linear.cpp): the CPU engine, the
// plain activation layouts, scratchpads of their own, and running a
// primitive single-threaded on the calling thread.
#pragma once

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "aligned_buffer.hpp"

namespace rtscope::cpu {

// oneDNN decides its thread partitioning when a primitive is created and
// would start an OpenMP team per call; the plugin's pool is the
// parallelism, so creation and execution both run with one OpenMP thread.
// Leaves the thread's setting as it found it.
class SingleOpenMpThread {
 public:
  SingleOpenMpThread() : outer_(omp_get_max_threads()) {
    if (outer_ != 1) omp_set_num_threads(1);
  }
  ~SingleOpenMpThread() {
    if (outer_ != 1) omp_set_num_threads(outer_);
  }
  SingleOpenMpThread(const SingleOpenMpThread&) = delete;
  SingleOpenMpThread& operator=(const SingleOpenMpThread&) = delete;

 private:
  int outer_;
};

// The process's oneDNN CPU engine, made on first use. Thread-safe.
const dnnl::engine& onednn_cpu_engine();

// ncw, nchw or ncdhw for 1 to 3 spatial dims.
dnnl::memory::format_tag plain_activation_tag(int spatial);

// `dims` followed by `spatial`: a tensor's leading dims, then its spatial
// ones.
dnnl::memory::dims with_spatial(dnnl::memory::dims dims, const dnnl::memory::dims& spatial);

// Attributes asking for a scratchpad the caller provides. The library's
// own is one buffer shared by every primitive (Debian's oneDNN is built
// without DNNL_ENABLE_CONCURRENT_EXEC), which primitives that pool threads
// run at once would race on.
dnnl::primitive_attr user_scratchpad_attr();

// The scratchpad `pd` asks for, in `buffer` (grown to fit).
dnnl::memory user_scratchpad(const dnnl::primitive_desc_base& pd, AlignedBuffer& buffer);

// Throws Error (unsupported) naming `label` when oneDNN picked its
// reference implementation of `what` (far slower than the plugin's own
// kernels, so never worth measuring): "... only its reference <what>
// (<impl>) for <for_what>".
void refuse_reference(const dnnl::primitive_desc_base& pd, const std::string& label,
                      const char* what, const char* for_what);

// Runs `primitive` with `args` through oneDNN's C API, which takes the
// arguments as an array (the C++ one builds a map per call). Throws Error
// naming `what` on failure.
void execute_primitive(const dnnl::primitive& primitive, const dnnl::stream& stream,
                       const dnnl_exec_arg_t* args, int count, const char* what);

}  // namespace rtscope::cpu
