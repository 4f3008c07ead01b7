/* Loads and negotiates fine but leaves the required `execute` and
 * `query_node` slots NULL: the host must refuse it at load, naming the file
 * and both slots, instead of calling through a null pointer later. */
#include "stub_plugin.h"

static rts_status null_slots_init(rts_plugin** out, const rts_error_sink* err) {
  static int instance;
  (void)err;
  *out = (rts_plugin*)&instance;
  return RTS_OK;
}

STUB_INIT_SLOT(null_slots_init)

static const rts_plugin_api kApi = {
    STUB_PLUGIN_TABLE(RTS_ABI_VERSION_MAJOR, "null_slots"),
    /* Designated initializers: the last one for a member wins. */
    .query_node = NULL,
    .execute = NULL,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
