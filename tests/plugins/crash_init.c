/* Crashes (SIGSEGV) in init, as a broken driver might. Loaded as an
 * optional plugin, it must be probed in a child process and dropped with a
 * warning; the host process must survive. */
#include <signal.h>

#include "stub_plugin.h"

static rts_status crash_init(rts_plugin** out, const rts_error_sink* err) {
  (void)out;
  (void)err;
  raise(SIGSEGV);
  return RTS_ERROR_INTERNAL;
}

STUB_PLUGIN_ENTRY(RTS_ABI_VERSION_MAJOR, "crash_init", crash_init)
