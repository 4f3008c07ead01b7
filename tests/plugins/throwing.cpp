// A C++ plugin that breaks the ABI's rule and lets exceptions escape through
// its C function pointers: query_node throws `42` for an `add` node, crashes
// (SIGSEGV) on a `relu` node, never returns on a `gelu` node and throws a
// std::runtime_error for any other node. The host must turn both into an
// error naming the plugin and the slot. Built with -fexceptions (unwind
// tables), so the exception can travel back to the host's frames.
#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "stub_plugin.h"

namespace {

rts_status throwing_init(const rts_host_api*, uint32_t, rts_plugin** out, const rts_error_sink*) {
  static int instance;
  *out = reinterpret_cast<rts_plugin*>(&instance);
  return RTS_OK;
}

rts_status throwing_query_node(rts_plugin*, uint32_t, const rts_node* node, const rts_value*,
                               const rts_value*, rts_support*, const rts_error_sink*) {
  const std::string op = node->op;
  if (op == "add") throw 42;
  if (op == "relu") raise(SIGSEGV);
  if (op == "gelu") {
    for (;;) pause();
  }
  throw std::runtime_error("query_node exploded on '" + std::string(node->name) + "'");
}

rts_plugin_api make_api() {
  rts_plugin_api api = {};
  api.struct_size = sizeof(rts_plugin_api);
  api.abi_major = RTS_ABI_VERSION_MAJOR;
  api.abi_minor = RTS_ABI_VERSION_MINOR;
  api.id = "throwing";
  api.version = "0.0.1";
  api.init = throwing_init;
  api.shutdown = stub_shutdown;
  api.device_count = stub_device_count;
  api.device_info = stub_device_info;
  api.query_node = throwing_query_node;
  api.build_engine = stub_build_engine;
  api.serialize_engine = stub_serialize_engine;
  api.deserialize_engine = stub_deserialize_engine;
  api.engine_info = stub_engine_info;
  api.destroy_engine = stub_destroy_engine;
  api.create_context = stub_create_context;
  api.destroy_context = stub_destroy_context;
  api.execute = stub_execute;
  api.context_counters = stub_context_counters;
  return api;
}

const rts_plugin_api kApi = make_api();

}  // namespace

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
