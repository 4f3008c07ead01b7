/* Loads and negotiates fine but leaves the required `execute` and
 * `query_node` slots NULL: the host must refuse it at load, naming the file
 * and both slots, instead of calling through a null pointer later. */
#include "stub_plugin.h"

static rts_status null_slots_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                                  const rts_error_sink* err) {
  static int instance;
  (void)host;
  (void)abi_minor;
  (void)err;
  *out = (rts_plugin*)&instance;
  return RTS_OK;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "null_slots",
    .version = "0.0.1",
    .init = null_slots_init,
    STUB_PLUGIN_SLOTS,
    /* Designated initializers: the last one for a member wins. */
    .query_node = NULL,
    .execute = NULL,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
