#include "kernels/onednn_support.hpp"

#include <algorithm>

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

dnnl::memory::dims with_spatial(dnnl::memory::dims dims, const dnnl::memory::dims& spatial) {
  dims.insert(dims.end(), spatial.begin(), spatial.end());
  return dims;
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::memory user_scratchpad(const dnnl::primitive_desc_base& pd, AlignedBuffer& buffer) {
  const dnnl::memory::desc desc = pd.scratchpad_desc();
  buffer.reserve(std::max<size_t>(desc.get_size(), 1));
  return dnnl::memory(desc, onednn_cpu_engine(), buffer.data());
}

void refuse_reference(const dnnl::primitive_desc_base& pd, const std::string& label,
                      const char* what, const char* for_what) {
  if (const std::string impl = pd.impl_info_str(); impl.rfind("ref", 0) == 0) {
    fail(RTS_ERROR_UNSUPPORTED, "cpu: ", label, ": oneDNN has only its reference ", what, " (",
         impl, ") for ", for_what);
  }
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
