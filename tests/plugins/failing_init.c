/* Loads and negotiates fine, then init fails as on a machine without the
 * plugin's device: the host must pass the plugin's message on. */
#include "stub_plugin.h"

static rts_status failing_init(rts_plugin** out, const rts_error_sink* err) {
  *out = NULL;
  stub_report(err, RTS_ERROR_DEVICE, "no device available: simulated init failure");
  return RTS_ERROR_DEVICE;
}

STUB_PLUGIN_ENTRY(RTS_ABI_VERSION_MAJOR, "failing_init", failing_init)
