#include "execution_context.hpp"

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

// The store a context sees is scoped to its plugin: the plugin id half of
// every key comes from the host, never from the plugin.
struct CacheScope {
  RuntimeCache* cache;
  std::string plugin_id;
};

rts_status cache_get(void* user, const char* fingerprint, const char* key,
                     const rts_blob_sink* sink) {
  auto* scope = static_cast<CacheScope*>(user);
  if (!fingerprint || !key || !sink) return RTS_ERROR_INVALID_ARGUMENT;
  auto bytes = scope->cache->get({scope->plugin_id, fingerprint, key});
  if (!bytes) return RTS_ERROR_NOT_FOUND;
  return sink->write(sink->user, bytes->data(), bytes->size()) == 0 ? RTS_OK : RTS_ERROR_INTERNAL;
}

rts_status cache_put(void* user, const char* fingerprint, const char* key, const void* data,
                     uint64_t size) {
  auto* scope = static_cast<CacheScope*>(user);
  if (!fingerprint || !key || (!data && size)) return RTS_ERROR_INVALID_ARGUMENT;
  scope->cache->put({scope->plugin_id, fingerprint, key}, data, size);
  return RTS_OK;
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
  auto scope = std::make_unique<CacheScope>(CacheScope{cache_.get(), engine_->plugin().id()});
  cache_store_.struct_size = sizeof(cache_store_);
  cache_store_.get = &cache_get;
  cache_store_.put = &cache_put;
  cache_store_.user = scope.get();

  const rts_runtime_settings abi = to_abi_settings(settings, cache_ ? &cache_store_ : nullptr);
  handle_ = engine_->plugin().create_context(engine_->handle(), abi);
  scope.release();  // owned through cache_store_.user from here on
}

ExecutionContext::~ExecutionContext() {
  if (handle_) engine_->plugin().destroy_context(handle_);
  delete static_cast<CacheScope*>(cache_store_.user);
}

void ExecutionContext::execute(const rts_execute_args& args, const std::string& module_name) {
  std::lock_guard lock(execute_mutex_);
  engine_->plugin().execute(handle_, args, "execute of module '" + module_name + "'");
}

std::map<std::string, uint64_t> ExecutionContext::counters() const {
  std::map<std::string, uint64_t> result;
  rts_counter_sink sink{&result, [](void* user, const char* name, uint64_t value) {
                          (*static_cast<std::map<std::string, uint64_t>*>(user))[name] = value;
                        }};
  engine_->plugin().context_counters(handle_, sink);
  return result;
}

}  // namespace rtscope
