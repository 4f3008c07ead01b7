/* A plugin built against a future major ABI: the host must refuse it before
 * calling any slot, naming both major versions and the file. */
#include "stub_plugin.h"

static rts_status bad_major_init(rts_plugin** out, const rts_error_sink* err) {
  *out = NULL;
  stub_report(err, RTS_ERROR_VERSION, "bad_major: init called despite the major mismatch");
  return RTS_ERROR_VERSION;
}

STUB_PLUGIN_ENTRY(RTS_ABI_VERSION_MAJOR + 1, "bad_major", bad_major_init)
