#include "kernels/onednn_support.hpp"

#include "kit_names.hpp"

namespace rtscope::cpu {

const dnnl::engine& onednn_cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::format_tag plain_activation_tag(int spatial) {
  using Tag = dnnl::memory::format_tag;
  static constexpr Tag kTags[] = {Tag::ncw, Tag::nchw, Tag::ncdhw};
  return kTags[spatial - 1];
}

void execute_primitive(const dnnl::primitive& primitive, const dnnl::stream& stream,
                       const dnnl_exec_arg_t* args, int count, const char* what) {
  const dnnl_status_t status = dnnl_primitive_execute(primitive.get(), stream.get(), count, args);
  if (status != dnnl_success) {
    fail(RTS_ERROR_INTERNAL, "cpu: oneDNN ", what, " failed (dnnl status ",
         static_cast<int>(status), ")");
  }
}

}  // namespace rtscope::cpu
