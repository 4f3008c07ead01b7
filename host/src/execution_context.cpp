#include "execution_context.hpp"

#include "host_callbacks.hpp"
#include "rtscope/error.hpp"

namespace rtscope {
namespace {

rts_kernel_specialization to_abi(KernelSpecialization value) {
  switch (value) {
    case KernelSpecialization::lazy:
      return RTS_KERNEL_SPECIALIZATION_LAZY;
    case KernelSpecialization::eager:
      return RTS_KERNEL_SPECIALIZATION_EAGER;
    case KernelSpecialization::none:
      return RTS_KERNEL_SPECIALIZATION_NONE;
  }
  return RTS_KERNEL_SPECIALIZATION_LAZY;
}

rts_graph_capture to_abi(GraphCapture value) {
  return value == GraphCapture::whole_graph ? RTS_GRAPH_CAPTURE_WHOLE_GRAPH
                                            : RTS_GRAPH_CAPTURE_DISABLED;
}

}  // namespace

rts_runtime_settings to_abi_settings(const RuntimeSettings& settings,
                                     const rts_cache_store* cache) {
  rts_runtime_settings abi{};
  abi.struct_size = sizeof(abi);
  abi.kernel_specialization = to_abi(settings.kernel_specialization);
  abi.graph_capture = to_abi(settings.graph_capture);
  abi.cache = cache;
  return abi;
}

ExecutionContext::ExecutionContext(std::shared_ptr<Engine> engine, const RuntimeSettings& settings,
                                   std::shared_ptr<RuntimeCache> cache)
    : engine_(std::move(engine)), settings_(settings), cache_(std::move(cache)) {
  if (cache_) {
    cache_store_ = std::make_unique<host_callbacks::CacheStore>(*cache_, engine_->plugin().id());
  }
  const rts_runtime_settings abi =
      to_abi_settings(settings, cache_store_ ? cache_store_->abi() : nullptr);
  handle_ = engine_->plugin().create_context(engine_->handle(), abi);
}

ExecutionContext::~ExecutionContext() {
  if (handle_) engine_->plugin().destroy_context(handle_);
}

void ExecutionContext::execute(const rts_execute_args& args, const std::string& module_name) {
  if (execute_what_.empty()) execute_what_ = "execute of module '" + module_name + "'";
  engine_->plugin().execute(handle_, args, execute_what_);
}

std::map<std::string, uint64_t> ExecutionContext::counters() const {
  std::map<std::string, uint64_t> result;
  engine_->plugin().context_counters(handle_, host_callbacks::counter_sink(result));
  return result;
}

}  // namespace rtscope
